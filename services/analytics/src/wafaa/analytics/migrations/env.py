from wafaa.analytics.models import metadata
from wafaa.common.db.migrations import run_env

run_env(schema="analytics", target_metadata=metadata)
