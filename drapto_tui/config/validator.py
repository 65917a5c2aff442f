"""Layering and validation: defaults < TOML file < DRAPTO_* environment < --set overrides.

Each layer is parsed into a nested dict, merged with provenance (which layer set which dotted key), then
validated once by the pydantic schema. Every error is reported with its dotted path, the value, why it is
wrong and where it came from, so that `config check` can list them all at once.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from drapto_tui.config.default import default_config_file
from drapto_tui.config.schema import RENAMED_KEYS, DraptoConfig
from drapto_tui.errors import ConfigError

ENV_PREFIX = "DRAPTO_"
ENV_SEPARATOR = "__"
# Environment variables of ours that are not config keys.
ENV_RESERVED = {"DRAPTO_CONFIG", "DRAPTO_DEBUG"}


def parse_scalar(text: str) -> Any:
    """A value from the command line or environment: TOML syntax when it parses, else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = {}
            _merge(base[key], value)
        else:
            base[key] = value


#: A config file is a few KiB; anything past this is not one (a device, a log given by mistake).
MAX_CONFIG_BYTES = 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML, read only when it is a regular file of a sane size: `--config /dev/zero` or a FIFO
    would otherwise be read for ever."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a folder"
                if stat.S_ISDIR(st.st_mode)
                else "not a regular file (a device, a pipe or a socket)"
            )
            raise ConfigError([f"{kind}; give a TOML file"], source=str(path))
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                [
                    f"{st.st_size} bytes, too large for a config file (at most {MAX_CONFIG_BYTES}); give a TOML file"
                ],
                source=str(path),
            )
        with path.open("rb") as fh:
            text = fh.read(MAX_CONFIG_BYTES + 1).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(["file not found; give an existing TOML file"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read ({exc})"], source=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source=str(path)) from None


def env_layer(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """DRAPTO_SECTION__KEY=value → {"section": {"key": value}}; sub-sections nest with more '__'."""
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    issues: list[str] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        rest = name[len(ENV_PREFIX) :]
        if ENV_SEPARATOR not in rest:
            issues.append(
                f"{name}: not a config variable; write DRAPTO_<SECTION>__<KEY>, e.g. DRAPTO_ENCODING__PRESET=8"
            )
            continue
        dotted = ".".join(part.lower() for part in rest.split(ENV_SEPARATOR))
        _set_dotted(tree, dotted, parse_scalar(env[name]))
        sources[dotted] = f"environment {name}"
    return tree, sources, issues


def overrides_layer(overrides: Iterable[str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    issues: list[str] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or "." not in key:
            issues.append(f"--set {item!r}: write section.key=value, e.g. --set encoding.preset=8")
            continue
        _set_dotted(tree, key, parse_scalar(value.strip()))
        sources[key] = "--set"
    return tree, sources, issues


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = DraptoConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return model


def _describe(error: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    loc = tuple(str(p) for p in error["loc"])
    dotted = ".".join(loc) if loc else "(top level)"
    origin = sources.get(dotted) or next((v for k, v in sources.items() if k.startswith(dotted + ".")), None)
    where = f" (from {origin})" if origin else ""
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = (
            f"did you mean '{'.'.join((*loc[:-1], close[0]))}'?"
            if close
            else (f"valid keys here: {', '.join(known)}" if known else "remove it")
        )
        return f"{dotted}{where}: unknown key — {hint}"
    value = error.get("input")
    shown = "" if isinstance(value, Mapping) else f" = {value!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    model = _model_at(loc)
    if model is not None and isinstance(value, Mapping):
        # A cross-field rule: name the layer of each field the message mentions, not whichever key of the
        # section happened to be set first.
        fields = [f for f in model.model_fields if re.search(rf"\b{re.escape(f)}\b", message)]
        if fields:
            named = ", ".join(
                f"{dotted}.{f} = {value.get(f, model.model_fields[f].default)!r} from"
                f" {sources.get(f'{dotted}.{f}', 'default')}"
                for f in fields
            )
            return f"{dotted} ({named}): {message}"
    return f"{dotted}{shown}{where}: {message}"


def validate_tree(tree: Mapping[str, Any], sources: Mapping[str, str] | None = None) -> DraptoConfig:
    try:
        return DraptoConfig.model_validate(tree)
    except ValidationError as exc:
        issues = [_describe(err, sources or {}) for err in exc.errors()]
        raise ConfigError(issues) from None


def load_config(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
    use_default_file: bool = True,
) -> DraptoConfig:
    """The effective configuration; raises ConfigError listing every bad field."""
    env = os.environ if env is None else env
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    issues: list[str] = []

    if config_file is None and env.get("DRAPTO_CONFIG"):
        config_file = Path(env["DRAPTO_CONFIG"])
    if config_file is None and use_default_file:
        default = default_config_file()
        try:
            if default.is_file():
                config_file = default
        except OSError as exc:
            raise ConfigError(
                [f"cannot read ({exc.strerror}); fix its permissions or pass --config FILE"],
                source=str(default),
            ) from None
    if config_file is not None:
        file_tree = read_toml(Path(config_file).expanduser())
        _merge(tree, file_tree)
        sources.update({key: str(config_file) for key, _ in _flatten(file_tree)})

    for layer, layer_sources, layer_issues in (env_layer(env), overrides_layer(overrides)):
        _merge(tree, layer)
        sources.update(layer_sources)
        issues.extend(layer_issues)

    notices = _move_renamed(tree, sources)
    try:
        config = validate_tree(tree, sources)
    except ConfigError as exc:
        raise ConfigError(issues + exc.issues) from None
    if issues:
        raise ConfigError(issues)
    config._sources = dict(sources)
    config._notices = notices
    return config


def _pop_dotted(tree: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    *parents, leaf = dotted.split(".")
    node: Any = tree
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node:
        return False, None
    return True, node.pop(leaf)


def _move_renamed(tree: dict[str, Any], sources: dict[str, str]) -> list[str]:
    """Old key names (RENAMED_KEYS) keep working: each value moves to its new name, unless the new name is set
    too (it wins), and one line says so."""
    notices = []
    for old, new in RENAMED_KEYS.items():
        found, value = _pop_dotted(tree, old)
        if not found:
            continue
        origin = sources.pop(old, "config")
        if new in sources:
            notices.append(
                f"{old} (from {origin}) is ignored: {new} (from {sources[new]}) replaces it; remove it"
            )
            continue
        _set_dotted(tree, new, value)
        sources[new] = origin
        notices.append(f"{old} (from {origin}) is now {new}; rename it there (the value was used)")
    return notices


def check_file(path: Path, notices: list[str] | None = None) -> list[str]:
    """Every problem with one TOML file laid over the defaults (no environment, no overrides); the lines about
    old key names go to `notices` (they are not problems)."""
    try:
        tree = read_toml(path)
    except ConfigError as exc:
        return exc.issues
    sources = {key: str(path) for key, _ in _flatten(tree)}
    moved = _move_renamed(tree, sources)
    if notices is not None:
        notices.extend(moved)
    try:
        validate_tree(tree, sources)
    except ConfigError as exc:
        return exc.issues
    return []


def to_toml(config: DraptoConfig) -> str:
    import tomli_w

    # An unset optional key (None: "the metric's own") has no TOML form: it is left out, which reads back as unset.
    data = config.model_dump(mode="json", exclude_none=True)
    # A folder's rules are the keys it sets (the rest follow [library]): printed as set, they read back the same.
    data["library"]["folders"] = [
        f.model_dump(mode="json", exclude_unset=True) for f in config.library.folders
    ]
    return tomli_w.dumps(data)
