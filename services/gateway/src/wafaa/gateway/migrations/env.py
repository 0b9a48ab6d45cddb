from wafaa.common.db.migrations import run_env
from wafaa.gateway.models import metadata

run_env(schema="gateway", target_metadata=metadata)
