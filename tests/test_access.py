"""Who may see what, walked from the URL resolver.

Every URL pattern of the site (``get_resolver()``, nested includes and
namespaces, Django admin and the rq dashboard included) is requested with GET
and POST as an anonymous user, an inspector, a logged-in user with no role
and an admin:

* anonymous users are sent to the login page, except on ``PUBLIC``;
* inspectors get 403 everywhere except on ``INSPECTOR_PAGES``, and the 403
  comes before any object is looked up (the ids in the URLs name nothing,
  and the refusal reads only the session, user and group tables); so do
  users without a role, who also get 403 (or 405) on ``INSPECTOR_ONLY``;
* admins never get 403 (404 for the missing objects, 405, 400... are fine),
  except on the inspector-only pages of ``INSPECTOR_ONLY``;
* nobody ever gets a 500, also for malformed requests.

A new page is thus refused to inspectors until someone adds it to
``INSPECTOR_PAGES`` here: an admin page cannot ship without its 403.
"""

import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter
from django.utils.regex_helper import normalize

from core.models import Job

# Pages that anonymous users may reach: everything else sends them to the login page.
PUBLIC = {
    "login",
    # Django admin's login URL only forwards to ours (one login form, one cap
    # on passwords hashed at once); the pattern it shadows is never reached.
    "admin_login_redirect",
}

# The inspector's whole world. Any other URL answers 403 to an inspector: a new
# page joins this list only if inspectors are meant to see it.
INSPECTOR_PAGES = {
    "login",
    "logout",
    "password_change",  # everyone changes their own password
    "password_change_done",
    "inspection:home",  # the inspector's own overview (admins get theirs)
    "inspection:my_grading",
    # Training on the known sets, and its stamps (only their own training set's).
    "inspection:training",
    "inspection:training_answer",
    "inspection:training_answer_json",
    "inspection:training_retake",
    "inspection:training_stamp",
    "inspection:training_reveal",  # 403 until they have answered the item
    # Grading their own campaigns: the page, its API and their own stamps.
    "inspection:grade",
    "inspection:grade_items",
    "inspection:grade_submit",
    "inspection:grade_stamp",
    # Discussion after grading: their campaign's index, and a candidate they
    # have graded (its thread, context and FITS stamps) through their assignment.
    "inspection:my_discussion",
    "inspection:graded_candidate",
    "inspection:graded_fits",
}
# Pages of the inspector role: an admin who is not also an inspector gets 403.
INSPECTOR_ONLY = INSPECTOR_PAGES - {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "inspection:home",
}

# The old hand lists of admin pages: the walk must cover each of them.
ADMIN_PAGES = [
    "inspection:surveys",
    "inspection:runs",
    "inspection:campaigns",
    "inspection:catalogues",
    "inspection:inspectors",
    "classifier:networks",
    "classifier:train",
    "core:jobs",
]
ADMIN_OBJECT_PAGES = [
    "core:job",
    "core:job_progress",
    "inspection:preview",
    "inspection:known_preview",
    "inspection:stamp_fits",
    "inspection:run_candidate",
    "inspection:discussion",
    "inspection:injection_preview",
    "inspection:completeness_export",
]
ADMIN_POSTS = [
    "inspection:inspector_create",
    "core:selftest",
    "classifier:train_launch",
    "inspection:survey_ingest",
    "inspection:campaign_create",
    "inspection:known_set_add",
    "inspection:training_policy",
    "inspection:item_comment",
    "inspection:item_decision",
    "core:job_cancel",
]

# Under settings.STAFF_ONLY_PREFIXES (Django admin, the rq dashboard) the
# middleware refuses before any view runs, so anonymous users and inspectors
# are walked through every pattern; admins only through these roots (the
# third-party views themselves are not ours to test).
STAFF_PREFIX_ADMIN_ROOTS = {"admin:index", "admin:auth_user_changelist", "django_rq:home"}

MISSING_ID = 987654  # no object has it: an inspector's 403 must not depend on existence
SAMPLES = {  # URL arguments by name; str, slug and path converters otherwise get "no-such-<name>"
    "kind": "rgb",
    "band": "r",
    "fmt": "csv",
    "which": "candidates",
    "app_label": "auth",  # django admin's app_list: one of the registered apps
    "token": "token",  # django_rq's stats.json
    "url": "no-such-page/",  # django admin's catch-all
}
# A refusal before any lookup reads these tables only (session, user, role).
REFUSAL_TABLES = {"django_session", "auth_user", "auth_user_groups", "auth_group"}
CSRF_TOKEN = "a" * 32  # a well-formed secret: the client sends it as cookie and header


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the route itself for an unnamed pattern
    route: str  # as written in the URLconfs, e.g. "runs/<int:pk>/progress.json"
    url: str  # a concrete URL that resolves to this pattern
    reachable: bool  # False when an earlier pattern answers the same URL

    @property
    def staff_prefix(self):
        return self.url.startswith(tuple(settings.STAFF_ONLY_PREFIXES))

    @property
    def walked_for_admins(self):  # of the third-party views, the roots only
        return not self.staff_prefix or self.key in STAFF_PREFIX_ADMIN_ROOTS


def _sample(name, converter):
    if isinstance(converter, IntConverter):
        return MISSING_ID
    if name in SAMPLES:
        return SAMPLES[name]
    if converter is None or isinstance(converter, StringConverter | SlugConverter | PathConverter):
        return "no-such-" + name.replace("_", "-")
    raise AssertionError(f"No sample value for the URL argument {name} ({converter!r}).")


def _concrete_url(regex, converters):
    """Fill a pattern's arguments as Django's own reverse() does."""
    # The fullest form: optional arguments given.
    template, params = max(normalize(regex), key=lambda form: len(form[1]))
    values = {}
    for name in params:
        converter = converters.get(name)
        value = _sample(name, converter)
        values[name] = converter.to_url(value) if converter else str(value)
    return "/" + template % values


def walk_urls(resolver=None):
    """Every URL pattern under ``resolver`` (the site's by default)."""
    routes = []

    def visit(patterns, regex, route, namespaces, converters):
        for p in patterns:
            part = p.pattern.regex.pattern.removeprefix("^")
            text = str(p.pattern).removeprefix("^")
            conv = {**converters, **getattr(p.pattern, "converters", {})}
            if isinstance(p, URLResolver):
                ns = namespaces + [p.namespace] if p.namespace else namespaces
                visit(p.url_patterns, regex + part, route + text, ns, conv)
                continue
            url = _concrete_url(regex + part, conv)
            match = resolve(url, getattr(resolver, "urlconf_name", None))
            key = ":".join([*namespaces, p.name]) if p.name else route + text
            routes.append(Route(key, route + text, url, match.route == route + text))

    resolver = resolver or get_resolver()
    visit(resolver.url_patterns, "", "", [], {})
    return routes


@dataclass
class Persona:
    """A user (None: anonymous) and their own client, which enforces CSRF
    checks as the middleware does for browsers and reports a server error as
    a 500 rather than raising it."""

    name: str
    user: object = None

    def __post_init__(self):
        self.client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        self.client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_TOKEN
        if self.user is not None:
            self.client.force_login(self.user)

    def send(self, method, url, **extra):
        """GET, or a POST with a valid CSRF token (without one the CSRF
        middleware would refuse every POST itself, hiding the view's answer)."""
        if method == "GET":
            response = self.client.get(url, **extra)
        else:
            extra.setdefault("data", {})
            response = self.client.post(url, headers={"X-CSRFToken": CSRF_TOKEN}, **extra)
        if self.user is not None and url == reverse("logout"):
            self.client.force_login(self.user)
        return response


def _tables(sql):
    return set(re.findall(r'(?:FROM|JOIN|INTO|UPDATE)\s+"(\w+)"', sql, re.IGNORECASE))


def _is_login_redirect(response, staff_prefix=False):
    """A redirect to the login page; under the staff-only prefixes Django admin
    and the rq dashboard send anonymous users to the admin's login form."""
    logins = [resolve_url(settings.LOGIN_URL)] + [reverse("admin:login")] * staff_prefix
    location = response.get("Location", "")
    return response.status_code == 302 and location.startswith(tuple(f"{u}?next=" for u in logins))


@pytest.fixture(scope="module")
def routes():
    return walk_urls()


@pytest.fixture
def job(db):
    return Job.objects.create(title="t", function="core.jobs.selftest")


@pytest.fixture
def personas(admin, inspector, django_user_model):
    nobody = django_user_model.objects.create_user("nemo")
    return [
        Persona("anonymous"),
        Persona("inspector", inspector),
        Persona("no-role", nobody),  # logged in, neither admin nor inspector
        Persona("admin", admin),
    ]


def test_the_walk_finds_every_page(routes):
    keys = {r.key for r in routes}
    assert len(routes) > 60
    assert len([r for r in routes if not r.staff_prefix]) > 40
    assert {*ADMIN_PAGES, *ADMIN_OBJECT_PAGES, *ADMIN_POSTS, *PUBLIC, *INSPECTOR_PAGES} <= keys
    assert keys >= STAFF_PREFIX_ADMIN_ROOTS
    assert "/admin/" in {r.url for r in routes} and "/rq/" in {r.url for r in routes}
    # Only a third-party pattern may hide behind an earlier one.
    assert all(r.reachable for r in routes if not r.staff_prefix)


def _problem(persona, r, response, read):
    """Why ``persona``'s answer on route ``r`` is wrong, or None."""
    status = response.status_code
    if status >= 500:
        return "a server error"
    if persona.name == "anonymous":
        if r.key in ("admin_login_redirect", "admin:login"):  # one URL, ours first
            location = response.get("Location", "")
            ok = status == 302 and location.startswith(resolve_url(settings.LOGIN_URL))
            return None if ok else "not forwarded to the login page"
        if r.key in PUBLIC:
            return "the login page" if _is_login_redirect(response) else None
        return None if _is_login_redirect(response, r.staff_prefix) else "not the login page"
    if persona.name != "admin" and r.key not in INSPECTOR_PAGES:
        # Refused before anything is looked up: no existence oracle, no work.
        if status != 403:
            return "not 403"
        return f"refused after reading {sorted(read)}" if read else None
    if persona.name != "inspector" and r.key in INSPECTOR_ONLY:
        return None if status in (403, 405) else "not 403"  # 405: a method no one may use
    if status == 403 or _is_login_redirect(response):
        return "refused"
    return None


def access_problems(routes, personas):
    """What each persona gets that it should not, as readable lines."""
    problems = []
    for r in routes:
        for method in ("GET", "POST"):
            for persona in personas:
                if persona.name == "admin" and not r.walked_for_admins:
                    continue
                with CaptureQueriesContext(connection) as queries:
                    response = persona.send(method, r.url)
                read = set().union(*(_tables(q["sql"]) for q in queries)) - REFUSAL_TABLES
                why = _problem(persona, r, response, read)
                if why:
                    problems.append(
                        f"{persona.name} {method} {r.url} ({r.key}): {response.status_code}, {why}"
                    )
    return problems


def test_each_role_gets_what_it_may_on_every_url(routes, personas):
    problems = access_problems(routes, personas)
    assert not problems, "\n".join(problems)


# --- Malformed requests: 400 (or a refusal), never 500 ---------------------------------

JUNK_FORM = {"item": "x", "grade": "zz", "id": "-1", "pk": "1e9", "name": "../../etc", "steps": ""}
JUNK_QUERY = "?stretch=%00&page=-1&threshold=nan&sort=%27&run=x&runs=x,y"
BROKEN_MULTIPART = "multipart/form-data; boundary=x"


def test_it_answers_malformed_requests_without_a_server_error(routes, personas):
    problems = []
    for r in routes:
        if r.staff_prefix or r.key in PUBLIC:
            continue
        for persona in personas[1:]:
            answers = [
                persona.send("GET", r.url + JUNK_QUERY),
                persona.send("POST", r.url, data=JUNK_FORM),
                persona.send("POST", r.url, data=b'{"id": ', content_type="application/json"),
                persona.send("POST", r.url, data=b"--x\r\n", content_type=BROKEN_MULTIPART),
            ]
            bad = [response.status_code for response in answers if response.status_code >= 500]
            if bad:
                problems.append(f"{persona.name} {r.url} ({r.key}): {bad}")
    assert not problems, "\n".join(problems)


def test_it_refuses_a_broken_grade_body_with_400(inspector):
    ines = Persona("inspector", inspector)
    url = reverse("inspection:grade_submit", args=[MISSING_ID])
    response = ines.send("POST", url, data=b'{"id": ', content_type="application/json")
    assert response.status_code == 400
    response = ines.send("POST", reverse("inspection:training_answer"), data={"item": "x"})
    assert response.status_code == 400
    response = ines.send(
        "POST", url, data=b"{}", content_type="application/json", CONTENT_LENGTH="many"
    )
    assert response.status_code == 400


# --- The walk can fail ----------------------------------------------------------------


def test_the_walk_catches_an_admin_page_without_its_decorator(settings, personas):
    """A page added without ``@admin_required`` is reported for inspectors
    (and for users without a role)."""
    from types import ModuleType

    from django.http import HttpResponse
    from django.urls import include, path

    from lensfinder import urls as site

    def new_admin_page(request, pk):
        return HttpResponse("secret")

    urlconf = ModuleType("urls_with_a_new_page")
    extra = ([path("things/<int:pk>/", new_admin_page, name="thing")], "extra")
    urlconf.urlpatterns = [*site.urlpatterns, path("extra/", include(extra))]
    settings.ROOT_URLCONF = urlconf
    new = [r for r in walk_urls(get_resolver(urlconf)) if r.key == "extra:thing"]
    assert [r.url for r in new] == [f"/extra/things/{MISSING_ID}/"]
    problems = access_problems(new, personas)
    for method in ("GET", "POST"):
        for who in ("inspector", "no-role"):
            line = f"{who} {method} /extra/things/{MISSING_ID}/ (extra:thing): 200, not 403"
            assert line in problems
    assert len(problems) == 4, problems


# --- Details of single pages ------------------------------------------------------------


def test_it_refuses_admin_actions_to_inspectors_and_changes_nothing(inspector, admin, job):
    url = reverse("core:job_cancel", args=[job.pk])
    with CaptureQueriesContext(connection) as queries:
        response = Persona("inspector", inspector).send("POST", url)
    assert response.status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested
    # The walk's "read before refusing" check sees the tables a request reads.
    assert {"django_session", "auth_group"} <= set().union(*(_tables(q["sql"]) for q in queries))
    with CaptureQueriesContext(connection) as queries:
        response = Persona("admin", admin).send("POST", url)
    assert response.status_code == 302
    assert "core_job" in set().union(*(_tables(q["sql"]) for q in queries))


def test_it_lets_admins_see_admin_pages_of_real_objects(admin_client, job):
    for url in [
        *("/admin/", "/admin/auth/user/", "/rq/", "/rq/queues/0/"),
        *(reverse(name) for name in ADMIN_PAGES),
        reverse("core:job", args=[job.pk]),
        reverse("core:job_progress", args=[job.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_it_shows_the_login_page_to_anonymous_users(anon_client, db):
    response = anon_client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_shows_each_role_its_own_navigation(admin_client, inspector, client):
    admin_page = admin_client.get(reverse("inspection:home")).content.decode()
    for label in ["Surveys", "Runs", "Networks", "Campaigns", "Catalogues"]:
        assert f">{label}</a>" in admin_page
    assert ">My grading</a>" not in admin_page

    client.force_login(inspector)
    inspector_page = client.get(reverse("inspection:home")).content.decode()
    assert ">My grading</a>" in inspector_page
    for label in ["Surveys", "Runs", "Networks", "Campaigns", "Catalogues", "Django admin"]:
        assert f">{label}</a>" not in inspector_page


def test_it_logs_in_with_a_password_and_logs_out(anon_client, inspector):
    response = anon_client.post(
        reverse("login"), {"username": "ines", "password": "ines-password-1"}, follow=True
    )
    assert response.wsgi_request.user == inspector
    assert b"My grading" in response.content
    anon_client.post(reverse("logout"))
    assert anon_client.get(reverse("inspection:home")).status_code == 302


def test_it_enforces_csrf_on_posts(inspector):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "ines", "password": "ines-password-1"})
    assert response.status_code == 403
    client.force_login(inspector)
    response = client.post(reverse("inspection:training_retake"))
    assert response.status_code == 403 and b"CSRF" in response.content
