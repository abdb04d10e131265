import subprocess
import sys

from kura_dagster.core.settings import Settings


def test_definitions_load_with_six_partitioned_assets_and_code_versions(kura_env):
    from kura_dagster.definitions import build_definitions

    defs = build_definitions(Settings.from_env())
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "conversations",
        "summaries",
        "embeddings",
        "base_clusters",
        "meta_clusters",
        "projections",
        "taxonomy",
        "topic_lineage",
        "topic_assignments",
        "topic_trends",
        "report",
    }
    for asset in defs.assets:
        spec = next(iter(asset.specs))
        assert spec.code_version and spec.group_name == "kura"
        assert asset.partitions_def.partition_dimension_names == ["dataset", "date"]
    assert defs.resolve_job_def("kura_pipeline")


def test_dagster_definitions_validate_passes(kura_env):
    from kura_dagster_tests.conftest import REPO

    (kura_env / "home" / "dagster").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
