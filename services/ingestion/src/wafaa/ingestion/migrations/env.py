from wafaa.common.db.migrations import run_env
from wafaa.ingestion.models import metadata

run_env(schema="ingestion", target_metadata=metadata)
