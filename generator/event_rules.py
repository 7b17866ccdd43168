"""EventBridge rule pieces shared by the event-driven blueprints: the S3 object event pattern with
its key filter, and InputTransformers that pass event fields to a target as valid JSON.

S3 sends `Object Created` (and other) events to EventBridge natively once the bucket's
`NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled` is true; no CloudTrail
trail is involved. https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from troposphere import events

from generator.errors import UserError

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
OBJECT_RESTORE_COMPLETED = "Object Restore Completed"
BUCKET_NAME_PATH = "$.detail.bucket.name"
OBJECT_KEY_PATH = "$.detail.object.key"
MAX_KEY_BYTES = 1024  # S3 object keys are at most 1024 bytes of UTF-8
# EventBridge's reserved InputTransformer variables (eb-transform-target-input.html, "Predefined variables").
RESERVED_VARIABLE_PREFIX = "aws.events."
VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def wildcard_escape(text: str) -> str:
    """Literal text inside an EventBridge `wildcard` filter: `*` and `\\` are escaped with `\\`."""
    return text.replace("\\", "\\\\").replace("*", "\\*")


def validate_wildcard(pattern: str, *, field: str) -> None:
    """What EventBridge's matcher (aws/event-ruler, `Patterns.wildcardMatch`) refuses at PutRule:
    consecutive `*` and a backslash that escapes anything but `*` or `\\`; plus patterns that match
    every key or no S3 key at all."""
    literal_bytes = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] not in "*\\":
                raise UserError(f"{pattern!r}: a backslash must escape * or \\ (position {index})", field=field)
            literal_bytes += 1
            index += 2
            continue
        if char == "*":
            if pattern[index + 1:index + 2] == "*":
                raise UserError(f"{pattern!r}: consecutive wildcard characters (**) are not allowed by EventBridge; use one *", field=field)
        else:
            literal_bytes += len(char.encode("utf-8"))
        index += 1
    if set(pattern) == {"*"}:
        raise UserError(f"{pattern!r} matches every key; leave the key filter out to run for every object", field=field)
    if literal_bytes > MAX_KEY_BYTES:
        raise UserError(f"{pattern!r} needs keys longer than S3's {MAX_KEY_BYTES}-byte limit, so it can never match", field=field)


@dataclass(frozen=True, kw_only=True)
class S3KeyFilter:
    """Which object keys start the target. key_prefix / key_suffix: default none (any key);
    given together they become one `wildcard` filter (`<prefix>*<suffix>`), because several
    filters in one array are OR'ed. key_wildcard: an EventBridge wildcard (`*` = any characters);
    default none. With no filter every object in the bucket matches."""

    key_prefix: str | None = None
    key_suffix: str | None = None
    key_wildcard: str | None = None

    def __post_init__(self):
        for name in ("key_prefix", "key_suffix", "key_wildcard"):
            value = getattr(self, name)
            if value is not None and value == "":
                raise UserError("an empty filter matches every key; leave the option out to run for every object", field=name)
        if self.key_wildcard is not None:
            if self.key_prefix is not None or self.key_suffix is not None:
                raise UserError("use either key_wildcard or key_prefix/key_suffix, not both", field="key_wildcard")
            validate_wildcard(self.key_wildcard, field="key_wildcard")
        total = sum(len((getattr(self, name) or "").encode("utf-8")) for name in ("key_prefix", "key_suffix"))
        if total > MAX_KEY_BYTES:
            field = "key_suffix" if self.key_suffix else "key_prefix"
            raise UserError(f"prefix and suffix together are {total} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes, "
                            "so the filter can never match", field=field)

    def key_filters(self) -> list[dict] | None:
        """The EventBridge filter list for `detail.object.key`, or None for every key."""
        if self.key_wildcard is not None:
            return [{"wildcard": self.key_wildcard}]
        if self.key_prefix is not None and self.key_suffix is not None:
            return [{"wildcard": f"{wildcard_escape(self.key_prefix)}*{wildcard_escape(self.key_suffix)}"}]
        if self.key_prefix is not None:
            return [{"prefix": self.key_prefix}]
        if self.key_suffix is not None:
            return [{"suffix": self.key_suffix}]
        return None


def s3_object_created_pattern(bucket_name, key_filter: S3KeyFilter | None = None, *,
                              detail_types: tuple[str, ...] = (OBJECT_CREATED,)) -> dict:
    """The EventPattern of S3 object events for one bucket (`bucket_name` may be a CloudFormation
    expression such as Ref("BucketName")) and, optionally, a key filter."""
    detail: dict = {"bucket": {"name": [bucket_name]}}
    filters = key_filter.key_filters() if key_filter is not None else None
    if filters:
        detail["object"] = {"key": filters}
    return {"source": [S3_SOURCE], "detail-type": list(detail_types), "detail": detail}


class Placeholder:
    """Marks where an InputTransformer variable goes in `json_input_transformer`'s body."""

    def __init__(self, name: str):
        self.name = name


def json_input_transformer(body, paths: dict[str, str]) -> events.InputTransformer:
    """An InputTransformer whose InputTemplate is `body` as JSON, each Placeholder written bare.

    A bare placeholder is replaced by the value as JSON (a string value arrives quoted and
    escaped: "Simple JSON" example in eb-transform-target-input.html), whereas inside quotes
    "EventBridge doesn't escape values extracted by Input Path" (same page, "Common issues"), so a
    key containing `"` or `\\` would break the JSON. Hence placeholders are never quoted here.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    """
    for name in paths:
        if not VARIABLE_NAME.match(name) or name.startswith(RESERVED_VARIABLE_PREFIX):
            raise ValueError(f"{name!r} is not a usable InputTransformer variable name")
    markers: dict[str, str] = {}

    def encode(value):
        if isinstance(value, Placeholder):
            if value.name not in paths:
                raise ValueError(f"placeholder {value.name!r} has no path")
            marker = f"\u0000{value.name}\u0000"
            markers[json.dumps(marker)] = f"<{value.name}>"
            return marker
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        return value

    text = json.dumps(encode(body), separators=(",", ":"), ensure_ascii=False)
    # Static text must not contain a placeholder EventBridge would also replace.
    for placeholder in [f"<{name}>" for name in paths] + [f"<{RESERVED_VARIABLE_PREFIX}"]:
        if placeholder in text:
            raise UserError(f"static text contains {placeholder}, which EventBridge would replace with event data; remove the angle brackets")
    for quoted_marker, placeholder in markers.items():
        text = text.replace(quoted_marker, placeholder)
    return events.InputTransformer(InputPathsMap=dict(paths), InputTemplate=text)


def container_override_transformer(options, environment_paths: dict[str, str]) -> events.InputTransformer:
    """An ECS target's InputTransformer: the RunTask `overrides` for `options.container_name`, with
    static command/environment from the options and each environment variable in
    `environment_paths` (name → JSON path in the event) set from the event."""
    extra = [{"name": name, "value": Placeholder(name)} for name in environment_paths]
    override = options.container_override(extra_environment=extra)
    return json_input_transformer({"containerOverrides": [override]}, dict(environment_paths))
