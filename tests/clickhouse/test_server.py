"""Smoke tests of the HTTP front, with the engine in-process.

Run with the venv that start.sh creates, from the repository root:

    .venv/bin/python -m unittest tests/clickhouse/test_server.py
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import struct
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

import lz4.frame

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import server  # noqa: E402  (needs the path above)

PASSWORD = "s3cret"


class Front(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="ci-medic-chdb-test-")
        cls.engine = server.Engine(cls.data_dir)
        handler = server.make_handler(cls.engine, "default", PASSWORD)
        cls.httpd = server.Server(("127.0.0.1", 0), handler)
        cls.base = f"http://127.0.0.1:{cls.httpd.server_address[1]}"
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        cls.engine.close()
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def call(self, params=None, body=None, headers=None, method=None, auth=True):
        """(status, headers, body) of one request."""
        url = self.base + "/"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        all_headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": PASSWORD} if auth else {}
        all_headers.update(headers or {})
        request = urllib.request.Request(url, data=body, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def sql(self, text, **params):
        status, _, body = self.call(params, text.encode())
        self.assertEqual(status, 200, body)
        return body.decode()

    def test_ping(self):
        with urllib.request.urlopen(self.base + "/ping", timeout=10) as response:
            self.assertEqual(response.read(), b"Ok.\n")

    def test_query_in_url_and_body(self):
        status, headers, body = self.call({"query": "SELECT 1 + 1"}, method="GET")
        self.assertEqual((status, body), (200, b"2\n"))
        self.assertEqual(headers["X-ClickHouse-Format"], "TabSeparated")
        self.assertEqual(self.sql("SELECT 'a' AS x FORMAT JSONEachRow"), '{"x":"a"}\n')

    def test_parameters_in_url_and_multipart_are_typed_values(self):
        tricky = "it's a \\ back'slash"
        escaped = tricky.replace("\\", "\\\\").replace("'", "\\'")
        out = self.sql(
            "SELECT {s:String} = 'it\\'s a \\\\ back\\'slash', length({a:Array(String)})",
            param_s=escaped,
            param_a="['x','y\\'); DROP TABLE t; --']",
        )
        self.assertEqual(out, "1\t2\n")

        boundary = "clickhouse-rs-boundary-0123456789abcdef"
        fields = [("query", "SELECT {n:UInt8} + 1, {s:String}"), ("param_n", "41"), ("param_s", escaped)]
        body = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields
        ) + f"--{boundary}--\r\n"
        status, _, out = self.call(
            body=body.encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        self.assertEqual((status, out.decode()), (200, f"42\t{escaped}\n"))

    def test_errors_carry_the_exception_code(self):
        status, headers, body = self.call(body=b"SELEC 1")
        self.assertEqual(status, 400)
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "62")
        self.assertTrue(body.startswith(b"Code: 62. DB::Exception:"), body)

        status, headers, _ = self.call(body=b"SELECT * FROM no_such_table")
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (404, "60"))

        status, headers, body = self.call(body=b"SELECT 1; SELECT 2")
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "62")
        self.assertIn(b"Multi-statements", body)

        status, headers, _ = self.call({"query": "CREATE TABLE g (a UInt8) ENGINE = Memory"}, method="GET")
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "164")
        status, headers, _ = self.call({"readonly": "1"}, b"CREATE TABLE g (a UInt8) ENGINE = Memory")
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "164")
        self.assertEqual(self.sql("SELECT 1", readonly="1"), "1\n")

    def test_authentication(self):
        status, headers, _ = self.call({"query": "SELECT 1"}, method="GET", auth=False)
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (403, "516"))
        basic = base64.b64encode(f"default:{PASSWORD}".encode()).decode()
        status, _, body = self.call(
            {"query": "SELECT 1"}, method="GET", auth=False,
            headers={"Authorization": f"Basic {basic}"},
        )
        self.assertEqual((status, body), (200, b"1\n"))

    def test_settings_last_one_request(self):
        self.assertEqual(self.sql("SELECT getSetting('max_block_size')", max_block_size="1234"), "1234\n")
        self.assertNotEqual(self.sql("SELECT getSetting('max_block_size')"), "1234\n")
        self.sql("SET max_block_size = 4321")
        self.assertNotEqual(self.sql("SELECT getSetting('max_block_size')"), "4321\n")

    def test_database_parameter(self):
        self.sql("CREATE DATABASE IF NOT EXISTS smoke")
        self.assertEqual(self.sql("SELECT currentDatabase()", database="smoke"), "smoke\n")
        self.assertEqual(self.sql("SELECT currentDatabase()"), "default\n")
        status, headers, _ = self.call({"database": "nope"}, b"SELECT 1")
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (404, "81"))

    def test_compressed_insert_and_responses(self):
        self.sql("CREATE TABLE IF NOT EXISTS z (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
        rows = b"".join(struct.pack("<I", i) + bytes([1]) + b"x" for i in range(1000))
        frames = server.encode_native_frames(rows)
        insert = {"query": "INSERT INTO z (a, s) FORMAT RowBinary", "decompress": "1"}
        status, headers, body = self.call(insert, frames)
        self.assertEqual(status, 200, body)
        self.assertIn('"written_rows": "1000"', headers["X-ClickHouse-Summary"])

        corrupted = bytearray(frames)
        corrupted[-1] ^= 0xFF
        status, headers, body = self.call(insert, bytes(corrupted))
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "40", body)
        self.assertEqual(self.sql("SELECT count() FROM z"), "1000\n")

        status, headers, body = self.call(
            {"query": "SELECT count() FROM z"}, method="GET", headers={"Accept-Encoding": "lz4"}
        )
        self.assertEqual(headers["Content-Encoding"], "lz4")
        self.assertEqual(lz4.frame.decompress(body), b"1000\n")

        status, headers, body = self.call({"query": "SELECT sum(a) FROM z", "compress": "1"}, method="GET")
        self.assertIsNone(headers["Content-Encoding"])
        self.assertEqual(server.decode_native_frames(body), b"499500\n")

        status, _, body = self.call(
            body=gzip.compress(b"SELECT max(a) FROM z"), headers={"Content-Encoding": "gzip"}
        )
        self.assertEqual((status, body), (200, b"999\n"))

    def test_chunked_insert_with_inline_data(self):
        self.sql("CREATE TABLE IF NOT EXISTS c (a UInt8, s String) ENGINE = Memory")
        data = b"INSERT INTO c FORMAT TSV\n1\tone\n2\ttwo\n"

        def chunks():
            yield data[:10]
            yield data[10:]

        request = urllib.request.Request(
            self.base + "/", data=chunks(), method="POST",
            headers={"X-ClickHouse-Key": PASSWORD, "Transfer-Encoding": "chunked"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self.assertEqual(response.status, 200)
        self.assertEqual(self.sql("SELECT s FROM c ORDER BY a"), "one\ntwo\n")


class Statements(unittest.TestCase):
    def test_insert_data_follows_the_format_name(self):
        st = server.split_statement(b"INSERT INTO t (a) FORMAT RowBinary\n\n\x00 ;")
        self.assertEqual((st.text, st.insert_format), ("INSERT INTO t (a)", "RowBinary"))
        self.assertEqual(st.insert_data, b"\n\x00 ;")
        st = server.split_statement(b"insert into t format CSV 1,2")
        self.assertEqual((st.insert_format, st.insert_data), ("CSV", b"1,2"))

    def test_quotes_and_comments_hide_keywords(self):
        st = server.split_statement(b"INSERT INTO t SELECT 'FORMAT x; y' -- FORMAT z\n")
        self.assertIsNone(st.insert_format)
        st = server.split_statement(b"SELECT 1 /* ; */ FORMAT JSON;\n-- done\n")
        self.assertEqual(st.output_format, "JSON")

    def test_one_statement_only(self):
        with self.assertRaises(server.ClickHouseError) as caught:
            server.split_statement(b"SELECT 1; DROP TABLE t")
        self.assertEqual(caught.exception.code, 62)
        self.assertEqual(server.split_statement(b"SELECT 1;;  ").keyword, "SELECT")

    def test_native_frames_round_trip(self):
        data = os.urandom(3 << 20)
        self.assertEqual(server.decode_native_frames(server.encode_native_frames(data)), data)


if __name__ == "__main__":
    unittest.main()
