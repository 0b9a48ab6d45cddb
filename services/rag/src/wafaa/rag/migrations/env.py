from wafaa.common.db.migrations import run_env
from wafaa.rag.models import metadata

run_env(schema="rag", target_metadata=metadata)
