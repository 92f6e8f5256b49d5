import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, run_stage
from whisper_pipeline.assets.normalized_transcripts import normalized_transcripts
from whisper_pipeline.data.splits import SplitSettings
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.split import split

SplitConfig = config_from("SplitConfig", SplitSettings)


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[normalized_transcripts], kinds={"python"})
def splits(
    context: dg.AssetExecutionContext, config: SplitConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Seeded, speaker-disjoint train/validation/test manifests (``manifests/splits/``), plus run1 and
    run1_small. Stable under growth: a speaker once assigned never changes split."""
    return run_stage(
        split, workspace.get(), context.partition_key, settings_from(config, SplitSettings), log=context.log
    )
