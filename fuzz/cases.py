"""What the fuzz targets feed the code, shared by the hypothesis properties
(tests/test_fuzz_properties.py) and the atheris targets (fuzz/fuzz_*.py).

Pure data: values that have broken a parser before or sit on a boundary, so
that both fuzzers start from the places bugs were found rather than from
random noise alone.
"""

from __future__ import annotations

# Cells that have crashed a parser or sit on an edge (issue 11's poison list and more).
EDGE_CELLS = (
    "", " ", "0", "-1", "131", "²", "٣", "４", "1e3", "12.5", "NaN", "None", "null",
    "2026-03-01", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00+02:00", "2026-03-01 10:00:00",
    "0001-01-01", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59+05:00", "9999-12-31T23:59:59-05:00",
    "1899-12-31", "01/03/2026", "March 1 2026", "2026-02-30", "2026-13-01", "+275760-09-13",
    "a@b.co", "Ann.Lee+tag@Gmail.com", "x@localhost", "@", "a@", "\"q\"@x.com", "a@b@c.com", "a" * 300 + "@x.com",
    "020 7946 0123", "+44 20 7946 0123", "+999999999999999999", "٠٢٠٧٩٤٦٠١٢٣",
    "UK", "u.k.", "Zz", "linkedin", "web_form", "email_a_friend", "yes", "no", "maybe",
    "=SUM(A1:A9)", "Robert'); DROP TABLE prospects;--", "<script>x</script>", "\u202eevil", "Zoë 😀",
    "nul\x00byte", "\ud7ff", "\ufeff", "\r\n", "\"", "a,b",
    "../../../dags/evil", "/etc/passwd", ".hidden", "a/b", "..", "CON", "x" * 128, "x" * 129,
    "{\"job_title\": \"CTO\"}", "[" * 3000 + "]" * 3000, "{\"a\":" * 2000 + "1" + "}" * 2000, "{", "[]",
)

# Request types and decisions worth hitting often: random text almost never does.
REQUEST_TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection", "Access ", "x")

# Bytes a CSV line is made of, weighted to the ones that break readers.
READER_TOKENS = (
    b",", b",", b'"', b'""', b"\n", b"\r\n", b"\r", b"\x00", b"\xe9", b"\xc3\xa9", b"\xef\xbb\xbf", b"\xff\xfe",
    b"a", b"b", b"c", b"x@y.com", b" ", b"\t", b";", b"=1+1", b"\xf0\x9f\x98\x80", b"\xe2\x80\x8f", b"PK\x03\x04",
)
READER_HEADERS = (b"a,b,c\n", b"A , B ,c,,,\n", b"\xef\xbb\xbfa,b,c\r\n", b'"a","b","c"\n', b"a,b\n", b"a;b;c\n", b"")
READER_REQUIRED = ("a", "b")
