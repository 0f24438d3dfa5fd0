#!/usr/bin/env python3
"""A small ClickHouse HTTP front over an embedded ClickHouse engine (chdb).

Tests need a real ClickHouse engine, but no recent server binary can be
installed where they run. The `chdb-core` package embeds the engine; this
module puts the part of ClickHouse's HTTP interface that the Rust
`clickhouse` crate uses in front of it, so the crate talks to it as it would
to `clickhouse-server`. See README.md next to this file for what is covered.

Run: python server.py --port 0 --port-file PATH
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

import lz4.block
import lz4.frame
from clickhouse_cityhash.cityhash import CityHash128

SERVER_NAME = "ci-medic-chdb"

# ClickHouse's native compressed block: 16-byte checksum, then a 9-byte header
# (method byte, u32 size of header + payload, u32 decompressed size), then the
# payload. The checksum is CityHash128 (v1.0.2) of header + payload.
CHECKSUM_SIZE = 16
FRAME_HEADER_SIZE = 9
METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_ZSTD = 0x90
# ClickHouse refuses compressed blocks above 1 GiB; so do we.
MAX_FRAME_SIZE = 1 << 30
# Size of the blocks we compress responses into under `compress=1`
# (ClickHouse's default `max_compress_block_size` is 1 MiB).
RESPONSE_BLOCK_SIZE = 1 << 20
# Idle keep-alive, in seconds: longer than the crate's 2 s pool idle timeout,
# so the client always drops an idle connection before we do.
KEEP_ALIVE_TIMEOUT = 10

# Error codes ClickHouse uses for failures this front detects itself.
UNSUPPORTED_METHOD = 1
SYNTAX_ERROR = 62
UNKNOWN_COMPRESSION_METHOD = 89
CANNOT_DECOMPRESS = 271
TOO_LARGE_SIZE_COMPRESSED = 39
CHECKSUM_DOESNT_MATCH = 40
NOT_IMPLEMENTED = 48
BAD_ARGUMENTS = 36
READONLY = 164
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

# HTTP status for an exception, by exception name, as clickhouse-server answers.
STATUS_BY_NAME = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
         "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"),
        403,
    ),
    **dict.fromkeys(
        ("BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT",
         "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
         "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
         "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4",
         "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
         "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
         "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE",
         "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
         "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA",
         "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
        400,
    ),
    **dict.fromkeys(
        ("UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER",
         "UNKNOWN_TYPE", "UNKNOWN_STORAGE", "UNKNOWN_DATABASE",
         "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
         "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT",
         "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# Request parameters that belong to the HTTP interface itself; every other
# parameter is a ClickHouse setting for the query.
HTTP_PARAMS = frozenset(
    ("query", "database", "default_format", "compress", "decompress", "user",
     "password", "quota_key", "query_id", "session_id", "session_timeout",
     "session_check", "buffer_size", "wait_end_of_query", "role", "stacktrace",
     "enable_http_compression", "http_zlib_compression_level")
)

# Statements a GET request may run: GET implies a read-only query.
READ_ONLY_STATEMENTS = frozenset(
    ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK")
)

CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "Pretty": "text/plain; charset=UTF-8",
}

SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_NAME = re.compile(r"^param_([A-Za-z_][A-Za-z0-9_]*)$")
ENGINE_CODE = re.compile(r"Code: (\d+)\. ")
READONLY_SETTING = re.compile(r"\breadonly\b", re.IGNORECASE)


class ClickHouseError(Exception):
    """An exception to report the way clickhouse-server does."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def own(cls, code: int, name: str, text: str) -> "ClickHouseError":
        """An error detected by the front, worded like the engine's."""
        return cls(code, f"Code: {code}. DB::Exception: {text}. ({name})")

    @classmethod
    def from_engine(cls, exc: BaseException) -> "ClickHouseError":
        text = str(exc)
        start = text.find("Code: ")
        if start > 0:
            text = text[start:]
        found = ENGINE_CODE.match(text)
        if found is None:
            return cls.own(UNKNOWN_EXCEPTION, "UNKNOWN_EXCEPTION", text.strip())
        return cls(int(found.group(1)), text.strip())


# --- SQL lexing --------------------------------------------------------------
#
# The front needs a little of the SQL's structure: the first keyword (GET is
# read-only), a `FORMAT <name>` clause (an INSERT's data follows it), and
# whether the text holds more than one statement (the HTTP interface runs one).
# It lexes bytes, because inline INSERT data after the format name is binary.

WORD, QUOTED, SYMBOL, SPACE = "word", "quoted", "symbol", "space"


@dataclass
class Token:
    kind: str
    start: int
    end: int
    text: bytes


SPACE_BYTES = frozenset(b" \t\n\r\f\v")


def _is_word_byte(byte: int) -> bool:
    return byte >= 0x80 or byte == 0x5F or chr(byte).isalnum()


def lex(sql: bytes) -> Iterator[Token]:
    """Tokens of `sql`, lazily; comments and whitespace are SPACE."""
    pos, size = 0, len(sql)
    while pos < size:
        byte = sql[pos]
        begin = pos
        if byte in SPACE_BYTES:
            while pos < size and sql[pos] in SPACE_BYTES:
                pos += 1
            kind = SPACE
        elif sql.startswith(b"--", pos) or sql.startswith(b"#", pos):
            newline = sql.find(b"\n", pos)
            pos = size if newline < 0 else newline + 1
            kind = SPACE
        elif sql.startswith(b"/*", pos):
            close = sql.find(b"*/", pos + 2)
            if close < 0:
                raise ClickHouseError.own(SYNTAX_ERROR, "SYNTAX_ERROR", "Unterminated comment")
            pos = close + 2
            kind = SPACE
        elif byte in b"'\"`":
            pos += 1
            while True:
                if pos >= size:
                    raise ClickHouseError.own(
                        SYNTAX_ERROR, "SYNTAX_ERROR", "Unterminated quoted string or identifier"
                    )
                if sql[pos] == 0x5C:  # backslash escape
                    pos += 2
                    continue
                if sql[pos] == byte:
                    if pos + 1 < size and sql[pos + 1] == byte:  # doubled quote
                        pos += 2
                        continue
                    pos += 1
                    break
                pos += 1
            kind = QUOTED
        elif _is_word_byte(byte):
            while pos < size and _is_word_byte(sql[pos]):
                pos += 1
            kind = WORD
        else:
            pos += 1
            kind = SYMBOL
        yield Token(kind, begin, pos, sql[begin:pos])


@dataclass
class Statement:
    """One statement of the query text, and an INSERT's data after it."""

    text: str
    keyword: str
    insert_format: Optional[str] = None
    insert_data: bytes = b""
    output_format: Optional[str] = None


def split_statement(sql: bytes) -> Statement:
    """Finds the statement's first keyword and its FORMAT clause.

    For an INSERT, lexing stops at `FORMAT <name>`: what follows is data.
    Otherwise the whole text is lexed and must hold a single statement.
    """
    keyword = ""
    previous: Optional[Token] = None
    output_format: Optional[Token] = None
    after_semicolon = False
    for token in lex(sql):
        if token.kind == SPACE:
            continue
        is_semicolon = token.kind == SYMBOL and token.text == b";"
        if after_semicolon:
            if is_semicolon:
                continue
            raise ClickHouseError.own(
                SYNTAX_ERROR, "SYNTAX_ERROR", "Multi-statements are not allowed"
            )
        if not keyword:
            keyword = token.text.decode("utf-8", "replace").upper()
        if is_semicolon:
            after_semicolon = True
            continue
        # A token after `FORMAT <name>` means that was not the output clause.
        output_format = None
        if token.kind == WORD and previous is not None and previous.text.upper() == b"FORMAT":
            if keyword == "INSERT":
                return _insert_with_data(sql, previous, token)
            output_format = token
        previous = token if token.kind == WORD else None
    return Statement(
        text=_decode_sql(sql),
        keyword=keyword,
        output_format=output_format.text.decode("utf-8", "replace") if output_format else None,
    )


def _insert_with_data(sql: bytes, format_word: Token, name: Token) -> Statement:
    # The data starts after the whitespace that follows the format name, and
    # after at most one line break of it.
    pos = name.end
    while pos < len(sql) and sql[pos] in SPACE_BYTES:
        pos += 1
        if sql[pos - 1] == 0x0A:
            break
    return Statement(
        text=_decode_sql(sql[: format_word.start]).rstrip(),
        keyword="INSERT",
        insert_format=name.text.decode("ascii", "replace"),
        insert_data=sql[pos:],
    )


def request_statement(head: Optional[bytes], body: bytes) -> Statement:
    """The statement of a request: query text from the URL or a form field
    (`head`), and the request body, which is an INSERT's data or the rest of
    the query text."""
    if head is None:
        return split_statement(body)
    try:
        statement = split_statement(head)
    except ClickHouseError:
        if not body:
            raise
    else:
        if statement.insert_format is not None:
            if not statement.insert_data:
                statement.insert_data = body
            elif body:
                statement.insert_data += b"\n" + body
            return statement
        if not body:
            return statement
    return split_statement(head + b"\n" + body)


def _decode_sql(sql: bytes) -> str:
    try:
        return sql.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClickHouseError.own(
            SYNTAX_ERROR, "SYNTAX_ERROR", f"Query is not valid UTF-8: {exc}"
        ) from None


# --- Compression -------------------------------------------------------------


def frame_checksum(header_and_payload: bytes) -> bytes:
    """The 16 checksum bytes ClickHouse writes before a compressed block."""
    # The package returns the 128-bit hash as one integer whose high half is
    # the first of the two 64-bit words ClickHouse writes, each little-endian.
    value = CityHash128(header_and_payload)
    first, second = value >> 64, value & 0xFFFFFFFFFFFFFFFF
    return struct.pack("<QQ", first, second)


def decode_native_frames(body: bytes) -> bytes:
    """Decompresses ClickHouse's native compressed blocks (`decompress=1`)."""
    out = bytearray()
    pos = 0
    while pos < len(body):
        if len(body) - pos < CHECKSUM_SIZE + FRAME_HEADER_SIZE:
            raise ClickHouseError.own(
                CANNOT_DECOMPRESS, "CANNOT_DECOMPRESS",
                "Cannot decompress: truncated compressed block header",
            )
        checksum = body[pos : pos + CHECKSUM_SIZE]
        header = pos + CHECKSUM_SIZE
        method, compressed, decompressed = struct.unpack_from("<BII", body, header)
        if compressed > MAX_FRAME_SIZE or decompressed > MAX_FRAME_SIZE:
            raise ClickHouseError.own(
                TOO_LARGE_SIZE_COMPRESSED, "TOO_LARGE_SIZE_COMPRESSED",
                f"Too large size of compressed block ({compressed} compressed, "
                f"{decompressed} decompressed)",
            )
        if compressed < FRAME_HEADER_SIZE or header + compressed > len(body):
            raise ClickHouseError.own(
                CANNOT_DECOMPRESS, "CANNOT_DECOMPRESS",
                f"Cannot decompress: block size {compressed} does not fit the body",
            )
        block = body[header : header + compressed]
        actual = frame_checksum(block)
        if actual != checksum:
            raise ClickHouseError.own(
                CHECKSUM_DOESNT_MATCH, "CHECKSUM_DOESNT_MATCH",
                "Checksum doesn't match: corrupted data. Reference: "
                f"{checksum.hex()}. Actual: {actual.hex()}",
            )
        payload = block[FRAME_HEADER_SIZE:]
        if method == METHOD_LZ4:
            try:
                data = lz4.block.decompress(payload, uncompressed_size=decompressed)
            except lz4.block.LZ4BlockError as exc:
                raise ClickHouseError.own(
                    CANNOT_DECOMPRESS, "CANNOT_DECOMPRESS", f"Cannot decompress LZ4: {exc}"
                ) from None
        elif method == METHOD_NONE:
            data = payload
        elif method == METHOD_ZSTD:
            raise ClickHouseError.own(
                UNKNOWN_COMPRESSION_METHOD, "UNKNOWN_COMPRESSION_METHOD",
                "ZSTD compressed blocks are not supported by this test server",
            )
        else:
            raise ClickHouseError.own(
                UNKNOWN_COMPRESSION_METHOD, "UNKNOWN_COMPRESSION_METHOD",
                f"Unknown compression method: {method:#x}",
            )
        if len(data) != decompressed:
            raise ClickHouseError.own(
                CANNOT_DECOMPRESS, "CANNOT_DECOMPRESS",
                f"Decompressed size {len(data)} differs from declared {decompressed}",
            )
        out += data
        pos = header + compressed
    return bytes(out)


def encode_native_frames(data: bytes) -> bytes:
    """Compresses a response into native LZ4 blocks (`compress=1`)."""
    out = bytearray()
    for start in range(0, len(data), RESPONSE_BLOCK_SIZE):
        chunk = data[start : start + RESPONSE_BLOCK_SIZE]
        payload = lz4.block.compress(chunk, store_size=False)
        header = struct.pack("<BII", METHOD_LZ4, FRAME_HEADER_SIZE + len(payload), len(chunk))
        block = header + payload
        out += frame_checksum(block) + block
    return bytes(out)


def decode_content_encoding(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "lz4":
            return lz4.frame.decompress(body)
    except (OSError, zlib.error, RuntimeError) as exc:
        raise ClickHouseError.own(
            CANNOT_DECOMPRESS, "CANNOT_DECOMPRESS", f"Cannot decode {encoding} body: {exc}"
        ) from None
    raise ClickHouseError.own(
        UNKNOWN_COMPRESSION_METHOD, "UNKNOWN_COMPRESSION_METHOD",
        f"Unknown Content-Encoding: {encoding}",
    )


def choose_response_encoding(accept: str) -> Optional[str]:
    """The first encoding in Accept-Encoding that the front can produce."""
    for item in accept.split(","):
        name = item.split(";")[0].strip().lower()
        if name in ("lz4", "gzip", "deflate"):
            return name
    return None


def encode_response(body: bytes, encoding: str) -> bytes:
    if encoding == "lz4":
        return lz4.frame.compress(body)
    if encoding == "gzip":
        return gzip.compress(body)
    return zlib.compress(body)


# --- Requests ----------------------------------------------------------------


@dataclass
class Request:
    """What one HTTP request asks of the engine."""

    head: Optional[bytes]
    body: bytes
    database: str = "default"
    default_format: str = "TabSeparated"
    params: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    read_only: bool = False


def parse_multipart(body: bytes, content_type: str) -> list:
    """(name, value) pairs of a multipart/form-data body."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if found is None:
        raise ClickHouseError.own(
            BAD_ARGUMENTS, "BAD_ARGUMENTS", "multipart/form-data without a boundary"
        )
    delimiter = b"--" + found.group(1).encode("latin-1")
    fields = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            raise ClickHouseError.own(
                BAD_ARGUMENTS, "BAD_ARGUMENTS", "Malformed multipart/form-data part"
            )
        if value.endswith(b"\r\n"):
            value = value[:-2]
        headers = head.decode("utf-8", "replace")
        if "filename=" in headers:
            raise ClickHouseError.own(
                NOT_IMPLEMENTED, "NOT_IMPLEMENTED",
                "External tables (multipart file parts) are not supported by this test server",
            )
        name = re.search(r'name="([^"]*)"', headers)
        if name is None:
            raise ClickHouseError.own(
                BAD_ARGUMENTS, "BAD_ARGUMENTS", "multipart/form-data part without a name"
            )
        fields.append((name.group(1), value.decode("utf-8", "replace")))
    return fields


class Engine:
    """One chdb session; requests run one at a time under a lock."""

    def __init__(self, data_dir: str):
        # Imported here so `--help` works without the engine installed.
        from chdb.state import sqlitelike

        self._conn = sqlitelike.Connection(data_dir)
        self._lock = threading.Lock()
        self.version = self._scalar("SELECT version()")
        self.timezone = self._scalar("SELECT timezone()")
        self._baseline = self._changed_settings()
        self._status_by_code = self._status_table()

    def _scalar(self, sql: str) -> str:
        return self._conn.query(sql, "TabSeparatedRaw").bytes().decode().strip()

    def _changed_settings(self) -> dict:
        raw = self._conn.query(
            "SELECT name, value FROM system.settings WHERE changed", "JSONEachRow"
        ).bytes()
        rows = (json.loads(line) for line in raw.splitlines() if line.strip())
        return {row["name"]: row["value"] for row in rows if row["name"] != "database"}

    def _status_table(self) -> dict:
        raw = self._conn.query(
            "SELECT number, errorCodeToName(number) FROM numbers(2000) "
            "WHERE errorCodeToName(number) != ''",
            "TabSeparatedRaw",
        ).bytes()
        table = {}
        for line in raw.decode().splitlines():
            code, name = line.split("\t")
            if name in STATUS_BY_NAME:
                table[int(code)] = STATUS_BY_NAME[name]
        return table

    def http_status(self, code: int) -> int:
        return self._status_by_code.get(code, 500)

    def run(self, request: Request) -> tuple:
        """Runs one request: (body, format, summary)."""
        statement = request_statement(request.head, request.body)
        if not statement.text.strip():
            raise ClickHouseError.own(SYNTAX_ERROR, "SYNTAX_ERROR", "Empty query")
        if request.read_only and statement.keyword not in READ_ONLY_STATEMENTS:
            raise ClickHouseError.own(
                READONLY, "READONLY",
                "Cannot execute query in readonly mode. For queries over HTTP, "
                "method GET implies readonly. You should use method POST for "
                "modifying queries",
            )
        if statement.keyword == "SET" and READONLY_SETTING.search(statement.text):
            raise ClickHouseError.own(
                NOT_IMPLEMENTED, "NOT_IMPLEMENTED",
                "SET readonly is not supported by this test server (it would lock "
                "its one shared session); pass readonly as a request parameter",
            )
        with self._lock:
            try:
                self._conn.query("USE {db:Identifier}", "TabSeparated", params={"db": request.database})
                for name, value in request.settings.items():
                    self._conn.query(f"SET {name} = {sql_string(value)}", "TabSeparated")
                if statement.insert_format is not None:
                    return self._insert(statement)
                return self._query(statement, request)
            except ClickHouseError:
                raise
            except Exception as exc:  # the engine reports every failure this way
                raise ClickHouseError.from_engine(exc) from None
            finally:
                self._restore_settings()

    def _query(self, statement: Statement, request: Request) -> tuple:
        fmt = statement.output_format or request.default_format
        started = time.monotonic_ns()
        result = self._conn.query(statement.text, request.default_format, params=request.params)
        body = result.bytes()
        summary = {
            "read_rows": result.rows_read(),
            "read_bytes": result.bytes_read(),
            "written_rows": result.rows_written(),
            "written_bytes": result.bytes_written(),
            "total_rows_to_read": result.rows_read(),
            "result_rows": 0,
            "result_bytes": len(body),
            "elapsed_ns": time.monotonic_ns() - started,
        }
        return body, fmt, summary

    def _insert(self, statement: Statement) -> tuple:
        started = time.monotonic_ns()
        inserter = self._conn.send_insert(statement.text, statement.insert_format)
        try:
            if statement.insert_data:
                inserter.append(statement.insert_data)
            result = inserter.finish()
        except BaseException:
            try:
                inserter.cancel()
            except Exception as exc:  # the first failure is the one to report
                log(f"could not cancel an insert: {exc}")
            raise
        summary = {
            "read_rows": 0,
            "read_bytes": 0,
            "written_rows": result.rows_written,
            "written_bytes": result.bytes_written,
            "total_rows_to_read": 0,
            "result_rows": result.rows_written,
            "result_bytes": result.bytes_written,
            "elapsed_ns": time.monotonic_ns() - started,
        }
        return b"", "TabSeparated", summary

    def _restore_settings(self) -> None:
        """Undoes SETs so that a request's settings end with it, as over HTTP."""
        try:
            changed = self._changed_settings()
            for name, value in changed.items():
                if name not in self._baseline:
                    self._conn.query(f"SET {name} = DEFAULT", "TabSeparated")
                elif self._baseline[name] != value:
                    self._conn.query(
                        f"SET {name} = {sql_string(self._baseline[name])}", "TabSeparated"
                    )
            for name, value in self._baseline.items():
                if name not in changed:
                    self._conn.query(f"SET {name} = {sql_string(value)}", "TabSeparated")
        except Exception as exc:  # keep serving; the next request may still work
            log(f"could not restore settings: {exc}")

    def close(self) -> None:
        self._conn.close()


def sql_string(value: str) -> str:
    """A ClickHouse string literal holding `value`."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# --- HTTP --------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    timeout = KEEP_ALIVE_TIMEOUT

    # Set on a subclass by `make_handler()`.
    engine: Engine
    user = "default"
    password = ""
    verbose = False

    def do_GET(self) -> None:
        self._handle(post=False)

    def do_POST(self) -> None:
        self._handle(post=True)

    def do_HEAD(self) -> None:
        self._reply(200, b"", {"Content-Type": "text/html; charset=UTF-8"})

    def do_PUT(self) -> None:
        self._fail_method()

    def do_DELETE(self) -> None:
        self._fail_method()

    def _fail_method(self) -> None:
        self._read_body()
        self._error(ClickHouseError.own(
            UNSUPPORTED_METHOD, "UNSUPPORTED_METHOD", f"Unsupported HTTP method {self.command}"
        ))

    def _handle(self, post: bool) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        try:
            body = self._read_body() if post else b""
        except (ValueError, OSError) as exc:
            self.close_connection = True
            self._error(ClickHouseError.own(BAD_ARGUMENTS, "BAD_ARGUMENTS", f"Bad request body: {exc}"))
            return
        args = parse_qsl(url.query, keep_blank_values=True)
        if url.path in ("/ping", "/replicas_status") or (
            url.path == "/" and not post and not any(k == "query" for k, _ in args)
        ):
            self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        if url.path != "/":
            self._error(ClickHouseError.own(
                NOT_IMPLEMENTED, "NOT_IMPLEMENTED", f"No handler for {url.path}"
            ), status=404)
            return
        query_id = next((v for k, v in args if k == "query_id" and v), str(uuid.uuid4()))
        try:
            self._authenticate(dict(args))
            request, options = self._parse(args, body, post)
            out, fmt, summary = self.engine.run(request)
        except ClickHouseError as exc:
            self._error(exc, query_id=query_id)
            self._log_request(started, exc.code)
            return
        headers = {
            "Content-Type": CONTENT_TYPES.get(fmt, "application/octet-stream"),
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}),
        }
        out = self._compress(out, options, headers)
        self._reply(200, out, headers)
        self._log_request(started, 0)

    def _parse(self, args: list, body: bytes, post: bool) -> tuple:
        options = dict(args)
        body = decode_content_encoding(body, self.headers.get("Content-Encoding", ""))
        content_type = self.headers.get("Content-Type", "")
        head = options["query"].encode("utf-8") if "query" in options else None
        if post and content_type.lower().startswith("multipart/form-data"):
            form = parse_multipart(body, content_type)
            args = args + form
            options.update(form)
            queries = [value for name, value in form if name == "query"]
            if queries:
                head = queries[-1].encode("utf-8")
            body = b""
        elif body and options.get("decompress", "0") not in ("0", ""):
            body = decode_native_frames(body)
        request = Request(
            head=head,
            body=body,
            database=(self.headers.get("X-ClickHouse-Database") or options.get("database") or "default"),
            default_format=(options.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"),
            read_only=not post,
        )
        for name, value in args:
            param = PARAM_NAME.match(name)
            if param is not None:
                request.params[param.group(1)] = value
            elif name == "readonly":
                # Not SET on the shared session: it could never be unset.
                request.read_only = request.read_only or value not in ("", "0")
            elif name not in HTTP_PARAMS and not name.startswith("param_"):
                if not SETTING_NAME.match(name):
                    raise ClickHouseError.own(
                        BAD_ARGUMENTS, "BAD_ARGUMENTS", f"Invalid setting name {name!r}"
                    )
                request.settings[name] = value
        return request, options

    def _authenticate(self, options: dict) -> None:
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            basic_user, _, basic_password = decoded.partition(":")
            user = user or basic_user
            password = password if password is not None else basic_password
        user = user or options.get("user") or "default"
        if password is None:
            password = options.get("password", "")
        if user != self.user or password != self.password:
            raise ClickHouseError.own(
                AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, "
                "or there is no user with such name",
            )

    def _compress(self, body: bytes, options: dict, headers: dict) -> bytes:
        if options.get("compress", "0") not in ("0", ""):
            return encode_native_frames(body)
        if options.get("enable_http_compression", "1") in ("0", "false"):
            return body
        encoding = choose_response_encoding(self.headers.get("Accept-Encoding", ""))
        if encoding is None:
            return body
        headers["Content-Encoding"] = encoding
        return encode_response(body, encoding)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline(65537)  # CRLF after the chunk

    def _error(self, exc: ClickHouseError, status: Optional[int] = None, query_id: str = "") -> None:
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(exc.code),
        }
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        message = exc.message if exc.message.endswith("\n") else exc.message + "\n"
        self._reply(status or self.engine.http_status(exc.code), message.encode("utf-8"), headers)

    def _reply(self, status: int, body: bytes, headers: dict) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("X-ClickHouse-Server-Display-Name", SERVER_NAME)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", f"timeout={KEEP_ALIVE_TIMEOUT}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log_request(self, started: float, code: int) -> None:
        if self.verbose or code:
            took = (time.monotonic() - started) * 1000
            log(f"{self.command} {urlsplit(self.path).path} code={code} {took:.1f}ms")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib name)
        # The default logs the full URL, which may carry a password.
        pass


def log(message: str) -> None:
    print(f"[{SERVER_NAME}] {message}", file=sys.stderr, flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(engine: Engine, user: str, password: str, verbose: bool = False) -> type:
    """A handler class serving `engine` to `user` with `password`."""
    return type(
        "BoundHandler",
        (Handler,),
        {"engine": engine, "user": user, "password": password, "verbose": verbose},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument("--data-dir", help="engine data directory (default: a temp dir, removed on exit)")
    parser.add_argument("--user", default=os.environ.get("CLICKHOUSE_USER", "default"))
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="shut down when standard input reaches end of file (the starter exited)",
    )
    args = parser.parse_args()
    password = os.environ.get("CLICKHOUSE_PASSWORD", "")

    owned_dir = args.data_dir is None
    data_dir = tempfile.mkdtemp(prefix="ci-medic-chdb-") if owned_dir else args.data_dir
    engine = Engine(data_dir)

    server = Server((args.host, args.port), make_handler(engine, args.user, password, args.verbose))
    port = server.server_address[1]

    def stop(signum, _frame):
        log(f"signal {signum}: shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.stop_on_stdin_eof:
        def watch_stdin():
            # Nothing is ever written: read() returns once every writer is gone.
            while sys.stdin.buffer.read(4096):
                pass
            log("standard input closed: shutting down")
            server.shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()

    if args.port_file:
        partial = args.port_file + ".tmp"
        with open(partial, "w", encoding="ascii") as out:
            out.write(f"{port}\n")
        os.replace(partial, args.port_file)
    log(f"ClickHouse {engine.version} (chdb) on http://{args.host}:{port}, data in {data_dir}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        engine.close()
        if owned_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
