"""The ``dermnode`` command line.

Sub-commands are thin: each parses its arguments here and calls one function in the module
that owns the work (imported lazily, so ``dermnode config validate`` does not load torch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dermnode", description="DICOM node for AI skin analysis")
    p.add_argument("--version", action="version", version="dermnode 0.1.0")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the DICOM node (C-ECHO, C-STORE)")
    s.add_argument("--config", help="YAML configuration file (default: embedded default)")

    e = sub.add_parser("echo", help="send C-ECHO to a configured destination")
    e.add_argument("name", help="destination name from the configuration")
    e.add_argument("--config", help="YAML configuration file")

    c = sub.add_parser("config", help="configuration tools")
    csub = c.add_subparsers(dest="config_command", required=True)
    v = csub.add_parser("validate", help="validate a configuration file")
    v.add_argument("file")

    r = sub.add_parser("rules", help="treatment-planning rules tools")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate a clinic rules file (YAML)")
    rc.add_argument("file")

    a = sub.add_parser("analyze", help="analyse DICOM files or images; print JSON")
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument("--out", help="folder for the outputs (maps, SR, SEG, PDF)")
    a.add_argument("--view", default=None, help="view for ordinary images (default frontal)")
    a.add_argument("--spacing-mm", type=float, default=None, help="pixel spacing for images")
    a.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a.add_argument(
        "--language",
        default="en",
        choices=["en", "ko"],
        help="language of the patient report (patient-report.pdf)",
    )
    a.add_argument("--rules", default=None, help="clinic rules file: adds treatment_support")

    d = sub.add_parser("demo", help="run the whole path on one machine on embedded defaults")
    d.add_argument("--out", default="demo-out", help="folder for the demo's outputs")

    h = sub.add_parser("history", help="one patient's trend table (no other patient's data)")
    h.add_argument("patient_id")
    h.add_argument("--issuer", default="", help="Issuer of Patient ID, when the PACS sends one")
    h.add_argument("--config", help="YAML configuration file")

    co = sub.add_parser("course", help="record or list a patient's treatment course")
    cosub = co.add_subparsers(dest="course_command", required=True)
    ca = cosub.add_parser("add", help="record a course (progress then shows the response)")
    ca.add_argument("patient_id")
    ca.add_argument("--issuer", default="", help="Issuer of Patient ID, when the PACS sends one")
    ca.add_argument("--name", required=True, help="the course, e.g. 'Laser toning'")
    ca.add_argument("--protocol", default="", help="free text, e.g. '1064 nm every 2 weeks'")
    ca.add_argument("--start", required=True, help="start date, YYYY-MM-DD")
    ca.add_argument("--sessions", type=int, default=None, help="planned sessions")
    ca.add_argument("--config", help="YAML configuration file")
    cl = cosub.add_parser("list", help="the patient's courses")
    cl.add_argument("patient_id")
    cl.add_argument("--issuer", default="")
    cl.add_argument("--config", help="YAML configuration file")

    j = sub.add_parser("jobs", help="list, show or retry jobs (no patient data)")
    j.add_argument("--config", help="YAML configuration file")
    jsub = j.add_subparsers(dest="jobs_command", required=True)
    jsub.add_parser("list")
    js = jsub.add_parser("show")
    js.add_argument("id")
    jr = jsub.add_parser("retry")
    jr.add_argument("id")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dermnode`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    from config import ConfigError
    from dicom_node import setup

    setup.apply()  # library flags that keep patient data out of logs, for every command

    try:
        if args.command == "config":
            from config import load_settings

            load_settings(args.file)
            print(f"OK: {args.file}")
            return 0
        if args.command == "rules":
            from dicom_node.treatment import load_clinic_rules

            rules = load_clinic_rules(args.file)
            print(f"OK: {args.file}: {len(rules.rules)} rule(s)")
            return 0
        if args.command == "course":
            from dicom_node.course_cmd import course_add_command, course_list_command

            if args.course_command == "add":
                return course_add_command(
                    args.patient_id,
                    args.issuer,
                    args.name,
                    args.protocol,
                    args.start,
                    args.sessions,
                    args.config,
                )
            return course_list_command(args.patient_id, args.issuer, args.config)
        if args.command == "serve":
            from dicom_node.app import serve

            return serve(args.config)
        if args.command == "echo":
            from dicom_node.scu import echo_command

            return echo_command(args.name, args.config)
        if args.command == "analyze":
            from dicom_node.analyze_cmd import analyze_command

            return analyze_command(
                args.paths,
                out=args.out,
                view=args.view,
                spacing_mm=args.spacing_mm,
                device=args.device,
                language=args.language,
                rules=args.rules,
            )
        if args.command == "demo":
            from dicom_node.demo import demo_command

            return demo_command(args.out)
        if args.command == "history":
            from dicom_node.history_cmd import history_command

            return history_command(args.patient_id, args.issuer, args.config)
        if args.command == "jobs":
            from dicom_node.jobs_cmd import jobs_command

            return jobs_command(args.jobs_command, getattr(args, "id", None), args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees not


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
