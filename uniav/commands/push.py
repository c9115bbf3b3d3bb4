"""`uniav push`: publish a model folder (config, weights, model card) to the Hugging Face Hub."""

from __future__ import annotations

import argparse

NAME = "push"
HELP = "upload a model folder with its model card to a Hugging Face Hub repository"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help="model folder (config.json + model.safetensors + README.md)")
    p.add_argument("repo_id", help="Hub repository, owner/name (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to push to")
    p.add_argument("--message", default="Upload UniAV model", help="commit message")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the stored login)")


def run(args: argparse.Namespace) -> int:
    from uniav.model.uniav import UniAV

    model = UniAV.from_pretrained(args.model_dir)  # validates the folder before anything is uploaded
    url = model.push_to_hub(
        args.repo_id,
        private=args.private or None,
        token=args.token,
        revision=args.revision,
        commit_message=args.message,
        folder=args.model_dir,
    )
    print(f"pushed {args.model_dir} to {args.repo_id}: {url}")
    return 0
