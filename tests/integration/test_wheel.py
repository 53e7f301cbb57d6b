"""Build the wheel, install it into a fresh venv and import everything from outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
def test_wheel_installs_and_imports_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wheels = list(dist.glob("dermnode-*.whl"))
    assert len(wheels) == 1
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Reuse the dependencies already installed (torch & co.) instead of downloading them: a
    # .pth line puts the project venv's site-packages *after* the new one. Its own .pth files
    # (the editable install of this checkout) are not processed, so only the wheel provides
    # dermnode's packages.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    Path(site, "zz_dermnode_deps.pth").write_text(deps + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheels[0])],
        check=True,
        capture_output=True,
    )
    code = (
        "import dicom_node, analysis, integrations, config, analysis.measures, "
        "integrations.hl7, integrations.report, dicom_node.cli, dicom_node.store, "
        "dicom_node.service\n"
        "import pathlib\n"
        "for m in (dicom_node, analysis, integrations, config):\n"
        "    assert 'site-packages' in m.__file__, m.__file__\n"
        "s = config.load_settings()\n"
        "assert s.node.ae_title == 'DERMNODE'\n"
        "assert pathlib.Path(config.default_config_path()).is_file()\n"
        "from dicom_node.demo import sample_photo_path\n"
        "assert 'site-packages' in str(sample_photo_path()) and sample_photo_path().is_file()\n"
        "assert pathlib.Path(config.__file__).with_name('examples').joinpath("
        "'hospital.yaml').is_file()\n"
        "import analysis.models, importlib.resources as r\n"
        "w = r.files('analysis.models').joinpath('weights', 'face_landmark.safetensors')\n"
        "assert 'site-packages' in str(w) and w.is_file()\n"
        "assert r.files('analysis.models').joinpath('NOTICE').is_file()\n"
        "analysis.models.FaceModel('cpu')\n"
        "from integrations.report.messages import Messages\n"
        "assert Messages('ko')('report.title') == '피부 분석 결과'\n"
        "from integrations.report.fonts import korean_font_path\n"
        "assert korean_font_path() is not None\n"
        "assert pathlib.Path(config.__file__).with_name('examples').joinpath("
        "'rules.yaml').is_file()\n"
        "print('imported-ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = subprocess.run(
        [str(py), "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    assert "imported-ok" in out.stdout
    cli = subprocess.run(
        [
            str(venv / "bin" / "dermnode"),
            "config",
            "validate",
            str(ROOT / "config" / "examples" / "hospital.yaml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith("OK")
