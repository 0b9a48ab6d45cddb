from wafaa.channels.models import metadata
from wafaa.common.db.migrations import run_env

run_env(schema="channels", target_metadata=metadata)
