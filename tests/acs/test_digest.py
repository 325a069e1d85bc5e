"""acs.digest: RFC 7616's worked examples, nonces, header parsing (fuzzed), both sides together."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acs import digest

# RFC 7616 section 3.9.1.
RFC = {
    "username": "Mufasa",
    "password": "Circle of Life",
    "realm": "http-auth@example.org",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "uri": "/dir/index.html",
}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_examples(algorithm, expected):
    key = digest.ha1(algorithm, RFC["username"], RFC["realm"], RFC["password"])
    value = digest.response_value(
        algorithm,
        key,
        method="GET",
        uri=RFC["uri"],
        nonce=RFC["nonce"],
        nc="00000001",
        cnonce=RFC["cnonce"],
    )
    assert value == expected
    header = (
        f'Digest username="Mufasa", realm="{RFC["realm"]}", uri="{RFC["uri"]}", '
        f'algorithm={algorithm}, nonce="{RFC["nonce"]}", nc=00000001, cnonce="{RFC["cnonce"]}", '
        f'qop=auth, response="{expected}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    answer = digest.parse_authorization(header)
    assert answer.algorithm == algorithm and answer.nc_value == 1
    assert answer.opaque.startswith("FQhe")
    assert digest.verify(answer, key, method="GET")
    assert not digest.verify(answer, key, method="POST")
    assert not digest.verify(
        answer, digest.ha1(algorithm, "Mufasa", RFC["realm"], "x"), method="GET"
    )


def test_client_and_server_sides_agree():
    chal = digest.parse_challenges(
        digest.challenge("acs", digest.make_nonce(b"k"), ("SHA-256", "MD5"))
    )
    assert [c["algorithm"] for c in chal] == ["SHA-256", "MD5"]
    for c in chal:
        header = digest.client_authorization(
            c, username="u", password="p", method="POST", uri="/cwmp", nc=7
        )
        answer = digest.parse_authorization(header)
        assert answer.nc_value == 7
        assert digest.verify(answer, digest.ha1(c["algorithm"], "u", "acs", "p"), method="POST")


def test_nonces_carry_their_age_and_cannot_be_forged():
    nonce = digest.make_nonce(b"secret", now=1000)
    assert digest.nonce_age(b"secret", nonce, now=1030) == 30
    assert digest.nonce_age(b"other", nonce, now=1030) is None
    issued, rand, mac = nonce.split(".")
    assert digest.nonce_age(b"secret", f"{int(issued, 16) + 5:x}.{rand}.{mac}") is None
    assert digest.nonce_age(b"secret", "garbage") is None
    assert digest.make_nonce(b"secret") != digest.make_nonce(b"secret")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "not a Digest response"),
        ('Digest username="u", realm="r"', "missing nonce"),
        (
            'Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=1, '
            'cnonce="c", qop=auth',
            "nc '1' is not 8 hex digits",
        ),
        (
            'Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=00000001, '
            'cnonce="c", qop=auth-int',
            "unsupported qop",
        ),
        (
            'Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=00000001, '
            'cnonce="c", qop=auth, algorithm=SHA-512-256',
            "unsupported algorithm",
        ),
        ('Digest username="u", "oops"', "cannot read the parameters"),
        ("Digest " + "a" * 5000, "too long"),
    ],
)
def test_unusable_headers_are_refused_with_the_reason(header, message):
    with pytest.raises(digest.DigestError, match=message):
        digest.parse_authorization(header)


def test_quoted_strings_with_escapes():
    params = digest.parse_params(r'username="a\"b", realm="x,y", nc=00000001')
    assert params == {"username": 'a"b', "realm": "x,y", "nc": "00000001"}


def test_uri_matching():
    assert digest.uri_matches("/cwmp", "/cwmp")
    assert digest.uri_matches("http://acs.example.net:7547/cwmp", "/cwmp")
    assert digest.uri_matches("/cwmp?x=1", "/cwmp", "x=1")
    assert not digest.uri_matches("/other", "/cwmp")


@given(st.text(max_size=300))
def test_any_header_parses_or_is_refused(text):
    for header in (text, "Digest " + text):
        with contextlib.suppress(digest.DigestError):
            digest.parse_authorization(header)


@given(
    st.dictionaries(
        st.sampled_from(["username", "realm", "nonce", "uri", "response", "nc", "cnonce", "qop"]),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    )
)
def test_fuzzed_parameters_never_escape(params):
    header = "Digest " + ", ".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    try:
        answer = digest.parse_authorization(header)
    except digest.DigestError:
        return
    assert answer.username == params["username"] and answer.realm == params["realm"]
