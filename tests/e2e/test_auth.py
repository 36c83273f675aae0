"""Coordinator log-in, sessions and throttling, on the real intake process and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from argon2 import PasswordHasher

from services.intake import service as intake_service
from services.intake.auth import (
    BadCredentials,
    LoginOk,
    Throttled,
    authenticate,
    create_coordinator,
    resume_session,
    start_session,
)
from shared.clock import FileClock, FrozenClock, SystemClock
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings

PASSWORD = "correct horse battery staple"
COOKIE = "womento_session"
CSRF = "womento_csrf"
PRODUCTION_ENV = {
    "WOMENTO_ENV": "production",
    "WOMENTO_SECRET_KEY": "p" * 40,
    "WOMENTO_MAIL_BACKEND": "smtp",
    "WOMENTO_PUBLIC_BASE_URL": "https://example.org",
}


async def make_coordinator(
    database_url: str,
    *,
    role: str = "coordinator",
    email: str | None = None,
    password: str = PASSWORD,
    display_name: str = "Maria Virtanen",
    organisation_name: str = "Test NGO",
    language: str = "fi",
) -> tuple[UUID, str]:
    """An organisation with one coordinator, written through intake's service layers."""
    email = email or f"maria.{uuid4().hex[:6]}@example.org"
    engine = make_engine(Settings(service="intake", DATABASE_URL=database_url), pool_size=1)
    clock = SystemClock()
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            org = await intake_service.create_organisation(
                session, name=organisation_name, slug=f"test-{uuid4().hex[:8]}", clock=clock
            )
            await create_coordinator(
                session,
                organisation_id=org,
                email=email,
                display_name=display_name,
                password=password,
                role=role,
                language=language,
                clock=clock,
            )
        return org, email
    finally:
        await engine.dispose()


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers of one response, by cookie name (the whole header as value)."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def cookie_value(header: str) -> str:
    return header.split("=", 1)[1].split(";", 1)[0].strip('"')


class Browser:
    """A minimal browser: keeps cookies itself (Secure ones too, over the tests' plain http)."""

    def __init__(self, base_url: str, **headers: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, follow_redirects=False, timeout=15, headers=headers
        )
        self.cookies: dict[str, str] = {}

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _remember(self, response: httpx.Response) -> None:
        for name, header in set_cookies(response).items():
            value = cookie_value(header)
            if not value or "max-age=0" in header.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        response = await self.client.get(url, headers=self._cookie_header(), **kwargs)
        self._remember(response)
        return response

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        response = await self.client.post(url, data=data, headers=self._cookie_header())
        self._remember(response)
        return response

    async def csrf_token(self, url: str = "/login") -> str:
        page = await self.get(url)
        assert page.status_code == 200, page.text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "the form has no CSRF field"
        assert self.cookies.get(CSRF) == match.group(1)
        return match.group(1)

    async def login(self, email: str, password: str, next_path: str = "") -> httpx.Response:
        token = await self.csrf_token()
        form = {"csrf_token": token, "email": email, "password": password}
        if next_path:
            form["next"] = next_path
        return await self.post("/login", form)


async def test_login_sets_a_session_cookie_and_opens_the_dashboard(stack, db) -> None:
    stack.start("intake")
    await make_coordinator(stack.database_url, organisation_name="Väestöliitto")
    _, email = await make_coordinator(
        stack.database_url, organisation_name="Womento NGO", display_name="Leila Saarinen"
    )

    async with Browser(stack["intake"].base_url) as browser:
        before = await browser.get("/coordinator")
        assert before.status_code == 303
        assert before.headers["location"] == "/login?next=%2Fcoordinator"

        response = await browser.login(email.upper(), PASSWORD)

        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/coordinator"
        cookie = set_cookies(response)[COOKIE]
        flags = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "path=/" in flags
        assert "secure" not in flags
        assert not any(flag.startswith(("max-age", "expires")) for flag in flags)

        dashboard = await browser.get("/coordinator")
        assert dashboard.status_code == 200
        assert "<h1>Leila Saarinen</h1>" in dashboard.text
        assert "Womento NGO" in dashboard.text
        assert "Väestöliitto" not in dashboard.text
        assert "Koordinaattori" in dashboard.text
        assert dashboard.headers["cache-control"] == "no-store"

    token = cookie_value(cookie)
    stored = await db.fetch("SELECT id FROM intake.web_sessions")
    assert [bytes(r["id"]) for r in stored] == [hashlib.sha256(token.encode()).digest()]
    hashes = await db.fetch("SELECT password_hash FROM intake.coordinators")
    assert len(hashes) == 2
    assert all(r["password_hash"].startswith("$argon2id$") for r in hashes)
    assert all(PASSWORD not in r["password_hash"] for r in hashes)


@pytest.mark.nats_tls
async def test_production_session_cookie_is_secure(stack) -> None:
    stack.start("intake", **PRODUCTION_ENV)
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        response = await browser.login(email, PASSWORD)

    assert response.status_code == 303, response.text
    flags = [p.strip().lower() for p in set_cookies(response)[COOKIE].split(";")[1:]]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags


async def test_wrong_password_is_401_with_a_generic_message_and_no_cookie(stack, db) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url, **{"Accept-Language": "en"}) as browser:
        wrong = await browser.login(email, PASSWORD + "!")
        unknown = await browser.login("nobody@example.org", PASSWORD)

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert COOKIE not in set_cookies(response)
        assert "The e-mail address or password is wrong." in response.text
        assert 'aria-invalid="true"' in response.text
    assert f'value="{email}"' in wrong.text  # the form keeps the e-mail, never the password
    assert PASSWORD not in wrong.text
    assert await db.fetchval("SELECT count(*) FROM intake.web_sessions") == 0
    assert await db.fetchval("SELECT count(*) FROM intake.login_failures") == 2
    failures = await db.fetch("SELECT email_digest FROM intake.login_failures")
    assert all(email.encode() not in bytes(r["email_digest"]) for r in failures)


async def test_login_errors_are_in_the_page_language(stack) -> None:
    stack.start("intake")
    async with Browser(stack["intake"].base_url) as browser:
        browser.cookies["womento_lang"] = "fi"
        token = await browser.csrf_token()
        empty = await browser.post("/login", {"csrf_token": token, "email": "", "password": ""})
        wrong = await browser.login("someone@example.org", "not the right one")

    assert empty.status_code == 422
    assert "Kirjoita sähköpostiosoitteesi." in empty.text
    assert "Kirjoita salasanasi." in empty.text
    assert 'aria-describedby="login-email-error"' in empty.text
    assert wrong.status_code == 401
    assert "Sähköpostiosoite tai salasana on väärin." in wrong.text


async def test_login_without_the_csrf_token_is_403(stack, db) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        await browser.csrf_token()  # the cookie is there, the form field is not
        missing = await browser.post("/login", {"email": email, "password": PASSWORD})
        wrong = await browser.post(
            "/login", {"csrf_token": "forged", "email": email, "password": PASSWORD}
        )

    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert COOKIE not in set_cookies(missing) and COOKIE not in set_cookies(wrong)
    assert await db.fetchval("SELECT count(*) FROM intake.web_sessions") == 0


async def test_logout_ends_the_session(stack, db) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        assert (await browser.login(email, PASSWORD)).status_code == 303
        old = browser.cookies[COOKIE]
        dashboard = await browser.get("/coordinator")
        assert dashboard.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', dashboard.text).group(1)

        response = await browser.post("/logout", {"csrf_token": token})

        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert "max-age=0" in set_cookies(response)[COOKIE].lower()
        assert COOKIE not in browser.cookies
        browser.cookies[COOKIE] = old  # someone who kept the old cookie
        again = await browser.get("/coordinator")

    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")
    assert await db.fetchval("SELECT count(*) FROM intake.web_sessions") == 0


async def test_idle_session_is_logged_out(stack, db, tmp_path) -> None:
    clock_file = tmp_path / "clock"
    stack.start("intake", WOMENTO_CLOCK_FILE=str(clock_file), WOMENTO_SESSION_IDLE_MINUTES="30")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        assert (await browser.login(email, PASSWORD)).status_code == 303
        FileClock.advance_file(clock_file, timedelta(minutes=29))
        assert (await browser.get("/coordinator")).status_code == 200  # active again
        FileClock.advance_file(clock_file, timedelta(minutes=31))  # then idle for 31 minutes

        expired = await browser.get("/coordinator")

    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=%2Fcoordinator"
    assert "max-age=0" in set_cookies(expired)[COOKIE].lower()
    assert await db.fetchval("SELECT count(*) FROM intake.web_sessions") == 0


async def test_session_ends_at_its_absolute_limit_even_when_active(stack, tmp_path) -> None:
    """Active every 20 minutes (under the 30-minute idle limit) on a moved clock: still in
    at 11 h 40 min, out once the 12-hour absolute limit has passed."""
    clock_file = tmp_path / "clock"
    stack.start(
        "intake",
        WOMENTO_CLOCK_FILE=str(clock_file),
        WOMENTO_SESSION_IDLE_MINUTES="30",
        WOMENTO_SESSION_MAX_HOURS="12",
    )
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        assert (await browser.login(email, PASSWORD)).status_code == 303
        statuses = []
        for _step in range(36):  # 36 x 20 min = 12 h
            statuses.append((await browser.get("/coordinator")).status_code)
            FileClock.advance_file(clock_file, timedelta(minutes=20))
        after = (await browser.get("/coordinator")).status_code

    assert statuses == [200] * 36  # never idle for long enough, up to 11 h 40 min
    assert after == 303  # 12 h after the login: back to the login page


async def test_brute_force_is_throttled_even_with_the_right_password(stack, db) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url, **{"Accept-Language": "en"}) as browser:
        for attempt in range(5):
            response = await browser.login(email, f"guess number {attempt}")
            assert response.status_code == 401, attempt
        throttled = await browser.login(email, PASSWORD)

    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60
    assert "Wait 15 min" in throttled.text
    assert COOKIE not in set_cookies(throttled)
    assert await db.fetchval("SELECT count(*) FROM intake.web_sessions") == 0
    # the throttled attempt was not counted as another failure
    assert await db.fetchval("SELECT count(*) FROM intake.login_failures") == 5


async def test_parallel_guesses_cannot_outrun_the_throttle(stack, db) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        token = await browser.csrf_token()
        form = {"csrf_token": token, "email": email}
        responses = await asyncio.gather(
            *(browser.post("/login", form | {"password": f"guess {i:02d}"}) for i in range(12))
        )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 5 + [429] * 7
    assert await db.fetchval("SELECT count(*) FROM intake.login_failures") == 5


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("//evil.example", "/coordinator"),
        ("https://evil.example/coordinator", "/coordinator"),
        ("/\\evil.example", "/coordinator"),
        ("/coordinator/cycles?status=open", "/coordinator/cycles?status=open"),
    ],
)
async def test_next_is_followed_only_to_local_paths(stack, next_path, location) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url)

    async with Browser(stack["intake"].base_url) as browser:
        form = await browser.get("/login", params={"next": next_path})
        response = await browser.login(email, PASSWORD, next_path=next_path)

    assert response.status_code == 303
    assert response.headers["location"] == location
    assert "evil.example" not in form.text


async def test_a_logged_in_coordinator_skips_the_login_form(stack) -> None:
    stack.start("intake")
    _, email = await make_coordinator(stack.database_url, role="viewer")

    async with Browser(stack["intake"].base_url) as browser:
        await browser.login(email, PASSWORD)
        again = await browser.get("/login", params={"next": "/coordinator?x=1"})
        dashboard = await browser.get("/coordinator")

    assert again.status_code == 303
    assert again.headers["location"] == "/coordinator?x=1"
    assert dashboard.status_code == 200
    assert "Katselija" in dashboard.text  # a viewer sees the landing page too


async def test_service_layer_throttle_window_passes_and_old_hashes_are_upgraded(stack, db) -> None:
    """The service functions with a frozen clock, against the migrated schema."""
    stack.start("intake")
    org, email = await make_coordinator(stack.database_url)
    settings = Settings(service="intake", DATABASE_URL=stack.database_url)
    clock = FrozenClock(datetime(2027, 1, 10, 9, 0, tzinfo=UTC))
    engine = make_engine(settings, pool_size=1)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    await db.execute(
        "UPDATE intake.coordinators SET password_hash = $1 WHERE email = $2",
        weak.hash(PASSWORD),
        email,
    )

    async def attempt(password: str, ip: str = "192.0.2.1") -> object:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await authenticate(
                session, email=email, password=password, ip=ip, clock=clock, settings=settings
            )

    try:
        for _ in range(5):
            assert isinstance(await attempt("wrong password!!"), BadCredentials)
            clock.advance(timedelta(minutes=1))
        locked = await attempt(PASSWORD)
        assert isinstance(locked, Throttled)
        assert locked.retry_after == timedelta(minutes=10)  # first failure + 15 min
        other_ip = await attempt(PASSWORD, ip="198.51.100.7")
        assert isinstance(other_ip, Throttled)  # by e-mail, from any address

        clock.advance(timedelta(minutes=10, seconds=-1))
        almost = await attempt(PASSWORD)
        assert isinstance(almost, Throttled) and almost.retry_after_seconds == 1
        clock.advance(timedelta(seconds=1))
        ok = await attempt(PASSWORD)
        assert isinstance(ok, LoginOk)
        assert ok.coordinator.organisation_id == org
        new_hash = await db.fetchval(
            "SELECT password_hash FROM intake.coordinators WHERE email = $1", email
        )
        assert new_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert await db.fetchval("SELECT count(*) FROM intake.login_failures") == 0

        async with make_sessionmaker(engine)() as session, session.begin():
            token = await start_session(
                session, coordinator_id=ok.coordinator.id, clock=clock, settings=settings
            )
        clock.advance(timedelta(minutes=29))
        async with make_sessionmaker(engine)() as session, session.begin():
            assert await resume_session(session, token=token, clock=clock, settings=settings)
        clock.advance(timedelta(minutes=31))
        async with make_sessionmaker(engine)() as session, session.begin():
            assert (
                await resume_session(session, token=token, clock=clock, settings=settings) is None
            )
    finally:
        await engine.dispose()
