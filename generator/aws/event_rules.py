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

from generator.core.errors import UserError
from generator.core.options import OptionTable, option

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
OBJECT_RESTORE_COMPLETED = "Object Restore Completed"
BUCKET_NAME_PATH = "$.detail.bucket.name"
OBJECT_KEY_PATH = "$.detail.object.key"
MAX_KEY_BYTES = 1024  # S3 object keys are at most 1024 bytes of UTF-8
MAX_BUCKET_NAME = 63  # characters, all of them [a-z0-9.-]
# "InputTemplate ... Maximum length of 8192" (EventBridge API reference, InputTransformer).
MAX_INPUT_TEMPLATE = 8192
# "A total of 8192 characters are allowed for overrides. This limit includes the JSON formatting
# characters of the override structure." (ECS API reference, RunTask `overrides`).
MAX_RUN_TASK_OVERRIDES = 8192
# "Event pattern size: 2,048, adjustable: maximum size of the event pattern, in characters"
# (EventBridge quotas, eb-quota.html). The default is what a new account has, so it is the limit here.
MAX_EVENT_PATTERN = 2048
# The most characters each event value can put into a transformed input. A bare placeholder receives
# the value as JSON: quoted, with `"` and `\` as 2 characters and control characters as \uXXXX.
# - bucket name: at most 63 characters of [a-z0-9.-], none escaped: 63 + 2 quotes.
# - object key: at most 1024 bytes of UTF-8, and S3 accepts any UTF-8 character in a key, control
#   characters (U+0001-U+001F) included (object-keys.html lists them as "characters that might
#   require special handling", not as forbidden). One such byte becomes 6 characters (\u0001); no
#   other byte does worse (`"`/`\` give 2 per byte; non-ASCII, even if escaped as \uXXXX or a
#   surrogate pair, gives at most 6 per 2 bytes). So 1024 * 6 + 2 quotes bounds every key.
WORST_CASE_VALUE_CHARS = {
    BUCKET_NAME_PATH: MAX_BUCKET_NAME + 2,
    OBJECT_KEY_PATH: 6 * MAX_KEY_BYTES + 2,
}
WORST_CASE_VALUE_TEXT = {
    BUCKET_NAME_PATH: f"a {MAX_BUCKET_NAME}-character bucket name",
    OBJECT_KEY_PATH: f"a {MAX_KEY_BYTES}-byte key of control characters",
}
# EventBridge's reserved InputTransformer variables (eb-transform-target-input.html, "Predefined variables").
RESERVED_VARIABLE_PREFIX = "aws.events."
VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- S3 object keys arrive URL-encoded ----------------------------------------------------------
# S3 documents the object key of its event notifications as URL-encoded ("red flower.jpg" becomes
# "red+flower.jpg", application/x-www-form-urlencoded: notification-content-structure.html). Its
# EventBridge event reference (ev-events.html) says nothing either way, but AWS Lambda Powertools
# (maintained by AWS) decodes `detail.object.key` of S3 EventBridge events with unquote_plus
# (aws_lambda_powertools/utilities/data_classes/s3_event.py) and LocalStack encodes it too
# (services/s3/notifications.py). So a key filter is compared with the encoded key: the options
# are written as keys are in S3 and encoded here. Letters, digits, . _ - and / are sent as they
# are and a space as +; every other character as %XX of its UTF-8 bytes (upper-case hex, as both
# application/x-www-form-urlencoded encoders in common use write it). `*` and `~` are refused in
# the literal part of a filter: the two common encoders disagree on them (Java's URLEncoder keeps
# `*` and encodes `~`, Python's quote the reverse) and S3 does not say which it follows.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
S3_KEY_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/")
S3_KEY_UNDOCUMENTED = "*~"


def s3_encode(key: str) -> str:
    """`key` as S3 writes it in an event: URL-encoded (see above)."""
    out = []
    for char in key:
        if char in S3_KEY_SAFE:
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
    return "".join(out)


def is_s3_encoded(key: str) -> bool:
    """Is `key` in the form S3 sends (nothing left that S3 would have encoded, escapes well formed)?"""
    from urllib.parse import unquote_plus

    return s3_encode(unquote_plus(key)) == key


def _check_encodable(text: str, *, field: str) -> None:
    for char in S3_KEY_UNDOCUMENTED:
        if char in text:
            raise UserError(f"{text!r} contains {char!r}: S3 sends object keys URL-encoded, and whether it encodes {char!r} (as "
                            f"{s3_encode(char)}) or not is not documented, so the filter might never match; "
                            f"allowed: a filter without {char!r} (with key_wildcard, a * that stands for any characters)", field=field)


def _check_key_start(text: str, *, field: str) -> None:
    """A filter that starts where no S3 key does: a / (keys are relative to the bucket), an s3:// URL or an ARN."""
    lowered = text.lower()
    if lowered.startswith(("s3://", "s3a://", "arn:")):
        raise UserError(f"{text!r} is a URL or ARN, not an object key: a key is the part after the bucket name "
                        "(s3://bucket/incoming/x.csv has key incoming/x.csv); allowed: the key's start, e.g. 'incoming/'", field=field)
    if text.startswith("/"):
        raise UserError(f"{text!r} starts with '/', which S3 keys written by the console, the CLI (s3://bucket/incoming/x.csv has key "
                        "incoming/x.csv) and the SDKs do not; allowed: the key without the leading '/', e.g. "
                        f"{text.lstrip('/')!r}", field=field)


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
class S3KeyFilter(OptionTable):
    """Which object keys start the target. Given together, a key must start with the prefix and end
    with the suffix (one `wildcard` `<prefix>*<suffix>`, plus the exact keys in which the two
    overlap). With no filter every object in the bucket matches. Filters are written as the key is
    in S3 ("raw/date=2025-01-01/my file.csv"); S3's events carry keys URL-encoded, so the rule
    compares the encoded form ("raw/date%3D2025-01-01/my+file.csv"): letters, digits, . _ - / stay, a
    space becomes +, any other character %XX; * and ~ (whose encoding S3 does not document) are refused."""

    key_prefix: str | None = option(None, doc="only keys that start with this, written as the key is in S3 (matched URL-encoded, as "
                                              "S3's events carry it; * and ~ are refused)", by_default="any key")
    key_suffix: str | None = option(None, doc="only keys that end with this (with key_prefix: keys that do both)", by_default="any key")
    key_wildcard: str | None = option(None, doc="only keys that match this EventBridge wildcard (* = any characters, a literal * "
                                                "is refused); not with key_prefix or key_suffix", by_default="any key")

    def __post_init__(self):
        for name in ("key_prefix", "key_suffix", "key_wildcard"):
            value = getattr(self, name)
            if value is not None and value == "":
                raise UserError("an empty filter matches every key; leave the option out to run for every object", field=name)
        if self.key_wildcard is not None:
            if self.key_prefix is not None or self.key_suffix is not None:
                raise UserError("use either key_wildcard or key_prefix/key_suffix, not both", field="key_wildcard")
            validate_wildcard(self.key_wildcard, field="key_wildcard")
            if "\\*" in self.key_wildcard.replace("\\\\", ""):
                raise UserError(f"{self.key_wildcard!r} has a literal * (\\*): S3 sends object keys URL-encoded, and whether it "
                                "encodes * (as %2A) or not is not documented, so it could never match reliably; allowed: * as a "
                                "wildcard only", field="key_wildcard")
            _check_encodable(self.key_wildcard.replace("*", ""), field="key_wildcard")
            _check_key_start(self.key_wildcard, field="key_wildcard")
        for name in ("key_prefix", "key_suffix"):
            if getattr(self, name) is not None:
                _check_encodable(getattr(self, name), field=name)
        if self.key_prefix is not None:
            _check_key_start(self.key_prefix, field="key_prefix")
        candidates = [(self.key_prefix or "") + (self.key_suffix or ""), *self._overlapping_keys()]
        shortest = min(len(key.encode("utf-8")) for key in candidates)
        if shortest > MAX_KEY_BYTES:
            field = "key_suffix" if self.key_suffix else "key_prefix"
            raise UserError(f"a key that this filter matches is at least {shortest} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes, "
                            "so the filter can never match", field=field)
        # Each overlap of prefix and suffix adds a whole key to the pattern, so a self-similar pair
        # can outgrow the quota. Bound: the longest bucket name and both detail types.
        pattern = s3_object_created_pattern("b" * MAX_BUCKET_NAME, self, detail_types=(OBJECT_CREATED, OBJECT_RESTORE_COMPLETED))
        size = api_length(json.dumps(pattern, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_EVENT_PATTERN:
            field = "key_suffix" if self.key_suffix else "key_prefix" if self.key_prefix else "key_wildcard"
            overlaps = len(self._overlapping_keys())
            raise UserError(f"the rule's event pattern could be {size} characters (the key filter lists {overlaps} keys in which prefix and "
                            f"suffix overlap); EventBridge allows {MAX_EVENT_PATTERN} by default: use a prefix and suffix that overlap "
                            "in fewer ways", field=field)
        super().__post_init__()

    def _overlapping_keys(self) -> list[str]:
        """The keys shorter than prefix + suffix that start with the prefix and end with the suffix,
        shortest first: prefix + suffix[k:] wherever the suffix's first k characters are the
        prefix's last k ("test/aaa/complete.txt" with ".txt": the key "test/aaa/complete.txt")."""
        prefix, suffix = self.key_prefix, self.key_suffix
        if prefix is None or suffix is None:
            return []
        return [prefix + suffix[k:] for k in range(min(len(prefix), len(suffix)), 0, -1) if prefix.endswith(suffix[:k])]

    def key_filters(self) -> list | None:
        """The EventBridge filter list for `detail.object.key` (in S3's URL-encoded form), or None for every key.

        Encoding keeps starts and ends: the encoded key starts with the encoded prefix exactly when
        the key starts with the prefix. (An encoded suffix that begins with a digit or A-F can also
        match the tail of an escape such as %C3%A5 before it: EventBridge compares encoded text, so
        such a key matches too. It only ever adds matches.)"""
        if self.key_wildcard is not None:
            return [{"wildcard": _encode_wildcard(self.key_wildcard)}]
        if self.key_prefix is not None and self.key_suffix is not None:
            # `<prefix>*<suffix>` needs at least len(prefix) + len(suffix) characters, so the keys in
            # which the two overlap are added as exact strings: items of one array are OR'ed, and an
            # exact string is matched literally (only a `wildcard` value escapes `*` and `\`).
            # Alternatives longer than S3 allows could never match and are left out.
            filters: list = []
            if len((self.key_prefix + self.key_suffix).encode("utf-8")) <= MAX_KEY_BYTES:
                filters.append({"wildcard": f"{wildcard_escape(s3_encode(self.key_prefix))}*{wildcard_escape(s3_encode(self.key_suffix))}"})
            filters += [s3_encode(key) for key in self._overlapping_keys() if len(key.encode("utf-8")) <= MAX_KEY_BYTES]
            return filters
        if self.key_prefix is not None:
            return [{"prefix": s3_encode(self.key_prefix)}]
        if self.key_suffix is not None:
            return [{"suffix": s3_encode(self.key_suffix)}]
        return None

    def encoded_differently(self) -> dict[str, tuple[str, str]]:
        """option → (as written, as compared) for the filters whose encoded form differs."""
        shown = {}
        for name in ("key_prefix", "key_suffix", "key_wildcard"):
            value = getattr(self, name)
            if value is not None:
                encoded = _encode_wildcard(value) if name == "key_wildcard" else s3_encode(value)
                if encoded != value:
                    shown[name] = (value, encoded)
        return shown

    def check_bucket(self, bucket_name: str, *, field_prefix: str = "") -> None:
        """A filter that starts with the bucket's own name and a / can match no key: keys are relative to the bucket."""
        start = self.key_prefix if self.key_prefix is not None else self.key_wildcard
        if start is not None and bucket_name and start.startswith(bucket_name + "/"):
            field = "key_prefix" if self.key_prefix is not None else "key_wildcard"
            raise UserError(f"{start!r} starts with the bucket's name {bucket_name!r}: a key is the part after the bucket name "
                            f"(s3://{bucket_name}/incoming/x.csv has key incoming/x.csv); allowed: {start[len(bucket_name) + 1:]!r}",
                            field=f"{field_prefix}{field}")


def s3_object_created_pattern(bucket_name, key_filter: S3KeyFilter | None = None, *,
                              detail_types: tuple[str, ...] = (OBJECT_CREATED,)) -> dict:
    """The EventPattern of S3 object events for one bucket (`bucket_name` may be a CloudFormation
    expression such as Ref("BucketName")) and, optionally, a key filter."""
    detail: dict = {"bucket": {"name": [bucket_name]}}
    filters = key_filter.key_filters() if key_filter is not None else None
    if filters:
        detail["object"] = {"key": filters}
    return {"source": [S3_SOURCE], "detail-type": list(detail_types), "detail": detail}


DECODE_PYTHON = 'urllib.parse.unquote_plus(os.environ["{var}"])'
DECODE_SHELL = r"""printf '%b' "$(printf '%s' "${var}" | sed 's/+/ /g; s/%\([0-9A-Fa-f][0-9A-Fa-f]\)/\\x\1/g')" """.rstrip()  # bash (or GNU printf)


def encoded_key_notes(key_filter: S3KeyFilter | None, env_var: str) -> list[str]:
    """What a stack README says about S3's URL-encoded keys: how its filters are compared, and how
    the container decodes the key it receives."""
    notes = []
    shown = key_filter.encoded_differently() if key_filter is not None else {}
    if shown:
        notes.append("S3 sends object keys URL-encoded, so the rule compares the filter in that form: "
                     + "; ".join(f"`{name}` `{written}` is compared as `{encoded}`" for name, (written, encoded) in shown.items()) + ".")
    notes.append(f"The container receives the key URL-encoded, as S3 sends it (`my file=1.csv` arrives as `my+file%3D1.csv` in "
                 f"`{env_var}`). Decode it before use: Python `{DECODE_PYTHON.format(var=env_var)}`; bash "
                 f"`{DECODE_SHELL.replace('{var}', env_var)}`.")
    return notes


def _encode_wildcard(pattern: str) -> str:
    """A key_wildcard in S3's encoded form: each literal run encoded, each `*` kept, `\\` (a literal
    backslash) encoded as %5C ( `\\*` is refused: see _check_encodable)."""
    out, literal, index = [], [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            literal.append(pattern[index + 1])
            index += 2
            continue
        if char == "*":
            out.append(s3_encode("".join(literal)))
            out.append("*")
            literal = []
        else:
            literal.append(char)
        index += 1
    out.append(s3_encode("".join(literal)))
    return "".join(out)


class Placeholder:
    """Marks where an InputTransformer variable goes in `json_input_transformer`'s body."""

    def __init__(self, name: str):
        self.name = name


def api_length(text: str) -> int:
    """A string's length as AWS APIs count it: UTF-16 code units (the same as the character count
    unless the text has characters beyond U+FFFF, each of which counts 2; never fewer)."""
    return len(text.encode("utf-16-le")) // 2


def json_input_transformer(body, paths: dict[str, str], *, field: str | None = None) -> events.InputTransformer:
    """An InputTransformer whose InputTemplate is `body` as JSON, each Placeholder written bare.
    `field` names the option a too-long InputTemplate should be blamed on.

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
    length = api_length(text)
    if length > MAX_INPUT_TEMPLATE:
        raise UserError(f"the rule target's InputTransformer InputTemplate would be {length} characters; EventBridge allows at most "
                        f"{MAX_INPUT_TEMPLATE} (shorten it by {length - MAX_INPUT_TEMPLATE})", field=field)
    return events.InputTransformer(InputPathsMap=dict(paths), InputTemplate=text)


def largest_override_option(options) -> str:
    """The option that takes the most room in RunTask overrides: the one worth shortening."""
    room = {"command": len(json.dumps(list(options.command))) if options.command else 0,
            "environment": len(json.dumps(options.environment)) if options.environment else 0}
    return max(room, key=room.get)


def check_run_task_overrides(length: int, options, *, worst_values: str | None = None) -> None:
    """RunTask overrides of `length` characters (at most, with the event values described by
    `worst_values`) fit ECS's limit, else a UserError blaming the option worth shortening."""
    if length <= MAX_RUN_TASK_OVERRIDES:
        return
    size = f"could be {length} characters with the longest event values ({worst_values})" if worst_values else f"would be {length} characters"
    raise UserError(f"the RunTask overrides {size}; ECS RunTask allows at most {MAX_RUN_TASK_OVERRIDES} "
                    f"(shorten command or environment by {length - MAX_RUN_TASK_OVERRIDES})", field=largest_override_option(options))


def container_override_transformer(options, environment_paths: dict[str, str]) -> events.InputTransformer:
    """An ECS target's InputTransformer: the RunTask `overrides` for `options.container_name`, with
    static command/environment from the options and each environment variable in
    `environment_paths` (name → JSON path in the event) set from the event.

    Refused at render time when the InputTemplate is too long for EventBridge, or when the
    overrides it produces for the longest values the event can carry (WORST_CASE_VALUE_CHARS)
    could exceed RunTask's limit: such a target would fail (to the dead-letter queue) for some keys."""
    unbounded = [path for path in environment_paths.values() if path not in WORST_CASE_VALUE_CHARS]
    if unbounded:
        raise ValueError(f"no worst-case length known for {unbounded[0]}; add it to WORST_CASE_VALUE_CHARS")
    extra = [{"name": name, "value": Placeholder(name)} for name in environment_paths]
    override = options.container_override(extra_environment=extra)
    field = largest_override_option(options)
    body = {**options.task_size_override(), "containerOverrides": [override]}
    transformer = json_input_transformer(body, dict(environment_paths), field=field)
    template = transformer.InputTemplate
    worst = api_length(template)
    for name, path in environment_paths.items():
        worst += template.count(f"<{name}>") * (WORST_CASE_VALUE_CHARS[path] - len(f"<{name}>"))
    check_run_task_overrides(worst, options, worst_values=", ".join(
        f"<{name}> {WORST_CASE_VALUE_TEXT[path]} ({WORST_CASE_VALUE_CHARS[path]} characters as JSON)"
        for name, path in environment_paths.items()))
    return transformer
