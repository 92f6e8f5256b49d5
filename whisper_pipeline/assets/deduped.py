import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, run_stage
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.data.balance import BalanceRules
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.dedupe import dedupe

BalanceConfig = config_from(
    "BalanceConfig", BalanceRules, __doc__="Thresholds of the balance audit's recommendations (see data/balance.py)."
)


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[raw_audio], kinds={"python"})
def deduped(
    context: dg.AssetExecutionContext, config: BalanceConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Usable, transcribed files with duplicates flagged and left out (nothing is deleted), and the
    corpus balance audit (``manifests/dataset_balance.json``) over every language deduped so far."""
    return run_stage(
        dedupe, workspace.get(), context.partition_key, settings_from(config, BalanceRules), log=context.log
    )
