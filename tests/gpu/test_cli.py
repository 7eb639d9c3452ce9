"""`python -m kfplatform capacity --stack S`: the plan as a table, also when it fails."""
from kfplatform.cli import main


def test_capacity_prints_supply_quotas_headroom_and_sweeps(capsys):
    assert main(["capacity", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "GPU capacity plan, stack prod: mig.strategy mixed" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("nvidia.com/")}
    # slice type, pools, supply, allowed, quotas, headroom, use, status, largest quotas...
    assert rows["nvidia.com/gpu"][:8] == ["nvidia.com/gpu", "h100-train", "24", "24", "20", "4", "83%", "ok"]
    assert "team-vision  nvidia.com/mig-1g.10gb               16          1     16     24  yes" in out
    assert out.rstrip().endswith("Problems: none")


def test_an_oversubscribed_plan_is_printed_and_the_command_fails(project, capsys):
    project.edit_gpu(lambda gpu: gpu["pools"][1]["nodes"].update(names=["gpu-h100-01"]))  # 24 -> 8 GPUs
    assert main(["--project", str(project.root), "capacity", "--stack", "prod"]) == 2
    captured = capsys.readouterr()
    assert "nvidia.com/gpu          h100-train       8        8      20       -12  250%  OVER" in captured.out
    assert "Pulumi.prod.yaml: kubeflow-platform:gpu.pools[1]: nvidia.com/gpu is oversubscribed" in captured.err
    assert "largest quotas: team-nlp 12, team-vision 8" in captured.err


def test_capacity_reports_tenant_file_errors_without_a_table(project, capsys):
    project.edit_tenant("team-nlp", lambda t: t.update(katib={"maxParallelTrials": 0, "resourcesPerTrial": {}}))
    assert main(["--project", str(project.root), "capacity", "--stack", "prod"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "tenants/team-nlp.yaml: katib.maxParallelTrials" in captured.err
