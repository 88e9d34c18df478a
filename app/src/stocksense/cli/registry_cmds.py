"""`stocksense models [list]`: what the model registry publishes, per symbol and model.

Reads the registry only (no database, no TensorFlow): the build script asks it whether a symbol's
models are current, an operator which versions serve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stocksense.cli.common import UserError, emit_json, print_table
from stocksense.layout import MODEL_NAMES


@click.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """Published models (alone: `models list`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_models)


@models.command("list")
@click.argument("symbols", nargs=-1)
@click.option("--registry", "registry_dir", type=click.Path(file_okay=False),
              help="A registry folder to read instead of the configured registry.")
@click.option("--complete", "require_complete", is_flag=True,
              help="Exit 1 unless every SYMBOL has every model published.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def list_models(symbols: tuple[str, ...] = (), registry_dir: str | None = None,
                require_complete: bool = False, as_json: bool = False) -> None:
    """Latest version of each model per symbol (SYMBOLS, or every symbol in the registry).

    JSON: {"ok", "model_names", "symbols": {SYMBOL: {model: version or null}}, "complete",
    "missing": ["SYMBOL model", ...], "models": [{symbol, model_name, version, metrics, ...}]}.
    """
    from stocksense.data.symbols import validate_symbol
    from stocksense.registry import RegistryUnavailable

    registry = open_registry_option(registry_dir)
    try:
        versions = registry.latest_versions([validate_symbol(s) for s in symbols] or None)
        items = [_model_item(registry, s, m, v) for s, by_model in versions.items()
                 for m, v in by_model.items() if v is not None]
    except RegistryUnavailable as exc:
        raise UserError(str(exc)) from exc
    missing = [f"{s} {m}" for s, by_model in versions.items() for m, v in by_model.items()
               if v is None]
    complete = bool(versions) and not missing
    if as_json:
        emit_json({"ok": complete or not require_complete, "model_names": list(MODEL_NAMES),
                   "symbols": versions, "complete": complete, "missing": missing,
                   "models": items})
    else:
        _print_models(items)
    if require_complete and not complete:
        click.echo(f"not published: {', '.join(missing) or 'no symbols'}", err=True)
        raise SystemExit(1)


def open_registry_option(registry_dir: str | None):  # type: ignore[no-untyped-def]
    from stocksense.config import load_settings
    from stocksense.registry import RegistryUnavailable, open_registry

    if registry_dir is not None:
        return open_registry(str(Path(registry_dir).resolve()))
    try:
        return open_registry(load_settings().registry_url)
    except (ValueError, RegistryUnavailable) as exc:
        raise UserError(str(exc)) from exc


def open_target_registry(url: str | None):  # type: ignore[no-untyped-def]
    """The registry to publish into (URL, or the configured one), checked before any work.

    A bad URL, a missing bucket, missing credentials or no boto3: UserError (exit 2).
    """
    from stocksense.config import load_settings
    from stocksense.registry import RegistryUnavailable, open_registry

    try:
        registry = open_registry(url or load_settings().registry_url)
        registry.check()
    except (ValueError, RegistryUnavailable) as exc:
        raise UserError(str(exc)) from exc
    return registry


def open_source_registry(source: str):  # type: ignore[no-untyped-def]
    """The registry to take versions from: a folder, or a URL (s3://bucket/prefix, file://).

    A URL is checked before any work like a target (bad URL, missing bucket, unreachable
    endpoint, no credentials, no boto3: UserError, exit 2); a folder must exist.
    """
    from stocksense.registry import RegistryUnavailable, open_registry

    if "://" in source:
        try:
            registry = open_registry(source)
            registry.check()
        except (ValueError, RegistryUnavailable) as exc:
            raise UserError(str(exc)) from exc
        return registry
    if not Path(source).is_dir():
        raise UserError(f"--from: no such registry folder: {source}")
    return open_registry(str(Path(source).resolve()))


@models.command("push")
@click.argument("symbols", nargs=-1)
@click.option("--from", "source_url", required=True,
              help="A registry to take the latest versions from: a folder (e.g. a release "
                   "bundle's registry/) or s3://bucket/prefix (an instance pulling from S3).")
@click.option("--to", "target_url", default=None,
              help="Registry to publish into, e.g. s3://bucket/prefix or a folder (default: the "
                   "configured STOCKSENSE_REGISTRY).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def push_models(symbols: tuple[str, ...], source_url: str, target_url: str | None,
                as_json: bool) -> None:
    """Publish the latest version of each model of SYMBOLS (default: all) into a registry.

    Each version goes through the publish protocol: its files checked against the manifest's
    hashes and written, then its manifest, then `latest`. A version the target already serves is
    not written again. A model whose source fails its check is refused (nothing of it is
    written, the target keeps its version) and the others still go.
    JSON: {"ok", "changed", "pushed": [{symbol, model, version, changed}], "refused": [{symbol,
    model, error}]}. Exit 1 when a model was refused (the error names the object), 2 for a bad
    source or target (unreachable, missing bucket, no credentials).
    """
    from stocksense.cli.common import EXIT_FAILED, fail, finish
    from stocksense.data.symbols import validate_symbol
    from stocksense.registry import CorruptArtifact, RegistryUnavailable

    target = open_target_registry(target_url)
    source = open_source_registry(source_url)
    pushed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    try:
        for symbol in [validate_symbol(s) for s in symbols] or source.symbols():
            for name in MODEL_NAMES:
                try:
                    version, changed = source.push_latest(target, symbol, name)
                except CorruptArtifact as exc:
                    refused.append({"symbol": symbol, "model": name, "error": str(exc)})
                    continue
                if version is not None:
                    pushed.append({"symbol": symbol, "model": name, "version": version,
                                   "changed": changed})
    except RegistryUnavailable as exc:
        fail(as_json, str(exc), pushed=pushed, refused=refused)
    changed = any(p["changed"] for p in pushed)
    if refused:
        fail(as_json, "; ".join(r["error"] for r in refused), code=EXIT_FAILED,
             changed=changed, pushed=pushed, refused=refused)
    finish(as_json, f"{sum(p['changed'] for p in pushed)} of {len(pushed)} model(s) published "
           f"from {source_url}", changed=changed, pushed=pushed, refused=refused)


def _model_item(registry, symbol: str, name: str, version: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    meta = registry.read_meta(symbol, name, version)
    return {"symbol": symbol, "model_name": name, "version": version,
            "created_at": meta.get("created_at"), "metrics": meta.get("metrics", {}),
            "content_hash": meta.get("content_hash"), "data_range": meta.get("data_range", {})}


def _print_models(items: list[dict[str, Any]]) -> None:
    if not items:
        click.echo("no published models; run `stocksense train SYMBOL`")
        return
    print_table(["symbol", "model", "version", "data", "val_loss", "parity", "hash"],
                [[m["symbol"], m["model_name"], m["version"],
                  f"{m['data_range'].get('start')}..{m['data_range'].get('end')}",
                  m["metrics"].get("val_loss"), m["metrics"].get("parity_max_abs_diff"),
                  (m["content_hash"] or "")[:19]] for m in items])
