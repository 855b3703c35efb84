"""The browser page (clients/web) in headless Chromium (Debian's package) driven by Playwright:
served by the local stack at `/`, and from another origin through CORS. Each test does what a
user does: gets a dev token, picks real files, uploads, looks at the photos, restores, deletes,
exports. The API's Swagger UI at `/docs` too: it shows every operation of openapi.yaml with
its error responses, and "Try it out" reaches the stack. A screenshot of each is kept as a test
artifact: `test-artifacts/<test name>.png` (git-ignored; the path is printed).

One file: what a user does in a browser against the local stack, the page and the Swagger UI
alike, shares one Chromium, its per-test page and screenshot, and the page's helpers."""

from __future__ import annotations

import io
import json
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from devkit.token import make_token
from testkit import images
from testkit.openapi import METHODS, OpenApi
from tests.e2e.conftest import RunningStack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# the page's threshold for the direct upload (upload-url + PUT + complete)
DIRECT_UPLOAD_ABOVE = 4.5 * 1024 * 1024
MAX_FILE_SIZE = 5242880
# generous: a first request starts the function's worker, and CI machines are shared
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
# A probe, not part of the page: records every upload progress event the browser fires.
# A probe, not part of the page: what the avatar looked like each time its `src` was set (its
# placeholder, painted before the square's URL is given to the browser).
RECORD_AVATAR = """
window.avatarShown = [];
new MutationObserver((records) => {
  for (const record of records) {
    const img = record.target;
    if (img.id !== "current-img" || !img.getAttribute("src")) continue;
    const style = getComputedStyle(img);
    window.avatarShown.push({
      src: img.getAttribute("src"),
      backgroundImage: style.backgroundImage,
      backgroundColor: style.backgroundColor,
      placeholder: img.dataset.placeholder,
    });
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["src"] });
"""
RECORD_PROGRESS = """
window.uploadProgress = [];
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  this.upload.addEventListener("progress", (e) => window.uploadProgress.push([e.loaded, e.total]));
  return send.call(this, body);
};
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it (apt)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 1200})
    context.add_init_script(RECORD_PROGRESS)
    context.add_init_script(RECORD_AVATAR)
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    opened.on("dialog", lambda dialog: dialog.accept())  # "Erase this photo for good?"
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{request.node.name}.png"
    opened.screenshot(path=shot, full_page=True)
    print(f"screenshot: {shot}")
    context.close()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def big_jpeg() -> bytes:
    """A real JPEG between the direct-upload threshold and the 5 MiB limit (noise barely
    compresses: ~2.4 bytes a pixel at quality 95 without chroma subsampling)."""
    side = 1420
    noise = Image.frombytes("RGB", (side, side), random.Random(0).randbytes(side * side * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95, subsampling=0)
    data = buffer.getvalue()
    assert DIRECT_UPLOAD_ABOVE < len(data) < MAX_FILE_SIZE, len(data)
    return data


def sign_in(page: Page, user: str) -> None:
    page.fill("#dev-user", user)
    page.click("#dev-token")
    expect(page.locator("#status")).to_have_text(f"Dev token for {user}")
    assert page.input_value("#token").count(".") == 2  # a JWT


def upload(page: Page, path: Path) -> None:
    page.set_input_files("#file", str(path))
    expect(page.locator("#send")).to_be_enabled()
    page.click("#send")
    expect(page.locator("#status")).to_contain_text(f"Uploaded {path.name}")
    expect(page.locator("#error")).to_be_hidden()


def wait_loaded(page: Page, selector: str) -> None:
    """Every <img> matching `selector` has loaded a real picture (natural width > 0)."""
    page.wait_for_function(
        """selector => {
            const found = [...document.querySelectorAll(selector)];
            return found.length > 0 && found.every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=selector,
    )


def history(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#history li[data-asset-id]", "all => all.map(li => li.dataset.assetId)"
    )


def progress(page: Page) -> tuple[float, float]:
    return page.eval_on_selector("#progress", "bar => [bar.value, bar.max]")


def progress_events(page: Page) -> list[list[int]]:
    """[loaded, total] of each upload progress event since the page opened, then clears them."""
    return page.evaluate("window.uploadProgress.splice(0)")


def test_page_served_by_the_stack(cors_stack: RunningStack, page: Page, tmp_path: Path) -> None:
    # Given the page the stack serves at /, and a dev token
    page.goto(cors_stack.url + "/")
    sign_in(page, "browser-user")

    # When the user uploads a JPEG
    upload(page, write(tmp_path, "first.jpg", images.jpeg_bytes()))
    # Then the browser reported the upload's progress up to the whole body, and the bar is full
    events = progress_events(page)
    assert events
    assert events[-1][0] == events[-1][1] > len(images.jpeg_bytes())  # multipart: body > file
    value, maximum = progress(page)
    assert value == maximum > 0
    # and the current photo shows, as the MEDIUM square
    wait_loaded(page, "#current-img")
    assert re.search(r"\.medium\.sq\d+\.webp\?", page.get_attribute("#current-img", "src") or "")
    first = history(page)
    assert len(first) == 1

    # When a second photo (PNG) follows, Then it is current and the first is in the history
    upload(page, write(tmp_path, "second.png", images.png_bytes()))
    wait_loaded(page, "#history img")
    older, newer = first[0], history(page)[0]
    assert history(page) == [newer, older]

    # When the user restores the older one, Then it is current again
    page.click(f"#history li[data-asset-id='{older}'] button:has-text('Restore')")
    expect(page.locator("#status")).to_have_text(f"Restored {older}")
    expect(page.locator("#history li[data-asset-id]").first).to_have_attribute(
        "data-asset-id", older
    )
    assert history(page) == [older, newer]
    wait_loaded(page, "#current-img")

    # When the user deletes the current photo, Then only the other one is left, and current
    page.click(f"#history li[data-asset-id='{older}'] button:has-text('Delete')")
    expect(page.locator("#status")).to_have_text(f"Deleted {older}")
    expect(page.locator("#history li[data-asset-id]")).to_have_count(1)
    assert history(page) == [newer]
    wait_loaded(page, "#current-img")
    # and the API agrees
    me = requests.post(
        cors_stack.url + "/graphql",
        headers={"Authorization": f"Bearer {make_token('browser-user', None)}"},
        json={"query": "{ me { profilePhotos { assetId } } }"},
        timeout=30,
    ).json()
    assert me["data"]["me"]["profilePhotos"] == [{"assetId": newer}]

    # When the user exports, Then one link per photo left, each serving its file
    page.click("#export-button")
    expect(page.locator("#status")).to_contain_text("Exported 1 photo")
    links = page.eval_on_selector_all("#export-list a", "all => all.map(a => a.href)")
    assert len(links) == 1
    served = requests.get(links[0], timeout=30)
    assert served.status_code == 200
    assert served.content == images.png_bytes()


def test_page_shows_hints_and_the_contracts_errors(
    cors_stack: RunningStack, page: Page, tmp_path: Path
) -> None:
    page.goto(cors_stack.url + "/")
    sign_in(page, "browser-errors")

    # A type the service refuses: the contract's message before anything is sent
    page.set_input_files("#file", str(write(tmp_path, "photo.bmp", images.bmp_bytes())))
    expect(page.locator("#hint")).to_have_text(
        "Content type image/bmp not allowed. Allowed types: jpg, jpeg, png, gif, webp, heic, heif"
    )
    expect(page.locator("#send")).to_be_disabled()

    # A file whose name and bytes disagree: the service's own 415 message, shown as it is
    liar = write(tmp_path, "liar.jpg", images.png_bytes())
    page.set_input_files("#file", str(liar))
    page.click("#send")
    expect(page.locator("#error")).to_be_visible()
    direct = requests.post(
        cors_stack.url + "/api/storage/profile-photo/upload",
        headers={"Authorization": f"Bearer {make_token('browser-errors', None)}"},
        files={"file": ("liar.jpg", liar.read_bytes(), "image/jpeg")},
        timeout=30,
    )
    assert direct.status_code == 415
    expect(page.locator("#error")).to_have_text(direct.json()["error"]["message"])

    # A token the service refuses: its 401 message
    page.fill("#token", "not-a-jwt")
    page.click("#refresh")
    refused = requests.post(
        cors_stack.url + "/graphql",
        headers={"Authorization": "Bearer not-a-jwt"},
        json={"query": "{ me { id } }"},
        timeout=30,
    )
    assert refused.status_code == 401
    expect(page.locator("#error")).to_have_text(refused.json()["error"]["message"])
    assert page.locator("#current").is_hidden()


def test_page_on_another_origin_uploads_through_cors(
    cors_stack: RunningStack, web_site: str, page: Page, tmp_path: Path
) -> None:
    # Given the page on its own origin, pointed at the stack with ?api=
    requests_seen: list[tuple[str, str]] = []
    page.on("request", lambda request: requests_seen.append((request.method, request.url)))
    page.goto(f"{web_site}/?api={cors_stack.url}")
    assert page.evaluate("location.origin") == web_site != cors_stack.url
    sign_in(page, "cross-origin-user")

    # When the user uploads a photo too big for one multipart body on AWS
    photo = write(tmp_path, "big.jpg", big_jpeg())
    upload(page, photo)

    # Then the page went direct (upload-url, one PUT of the bytes, complete), and it shows
    calls = [(method, url.split("?")[0]) for method, url in requests_seen]
    assert ("POST", f"{cors_stack.url}/api/storage/profile-photo/upload-url") in calls
    assert ("POST", f"{cors_stack.url}/api/storage/profile-photo/complete") in calls
    assert any(method == "PUT" for method, _ in calls)
    assert ("POST", f"{cors_stack.url}/api/storage/profile-photo/upload") not in calls
    # and the progress went up to every byte of the file (the PUT's body; on loopback the
    # browser may report it in one event)
    loaded = [event[0] for event in progress_events(page) if event[1] == photo.stat().st_size]
    assert loaded
    assert loaded == sorted(loaded)
    assert loaded[-1] == photo.stat().st_size
    wait_loaded(page, "#current-img")
    wait_loaded(page, "#history img")
    assert len(history(page)) == 1


def two_colour_png() -> bytes:
    """A 240 x 160 photo, blue with a red square: its placeholder and colour are not grey."""
    picture = Image.new("RGB", (240, 160), (20, 40, 220))
    picture.paste((220, 20, 20), (40, 10, 140, 110))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def placeholders(stack: RunningStack, user: str) -> dict[str, Any]:
    """The user's `profilePhotoThumbhash` and `profilePhotoColor`, once the service has made
    them (null until its renditions are made, normally for a second or two)."""
    query = {"query": "{ me { profilePhotoThumbhash profilePhotoColor } }"}
    auth = {"Authorization": f"Bearer {make_token(user, None)}"}
    for _ in range(240):
        me = stack.post("/graphql", headers=auth, json=query).json()["data"]["me"]
        if me["profilePhotoThumbhash"] is not None:
            return dict(me)
        time.sleep(0.25)
    raise AssertionError("the placeholders were never made")


def rgb(hex_colour: str) -> str:
    """`#rrggbb` as a computed style says it: `rgb(r, g, b)`."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_the_current_photo_is_a_round_square_avatar_over_its_placeholder(
    cors_stack: RunningStack, page: Page, tmp_path: Path
) -> None:
    # Given a user who uploads a 240 x 160 photo
    page.goto(cors_stack.url + "/")
    sign_in(page, "browser-avatar")
    upload(page, write(tmp_path, "two.png", two_colour_png()))

    # Then the current photo is its square (the crop's side: 160, never upscaled to 512),
    # drawn in a circle
    wait_loaded(page, "#current-img")
    natural = page.eval_on_selector("#current-img", "img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [160, 160]
    box = page.locator("#current-img").bounding_box()
    assert box is not None
    assert box["width"] == box["height"] > 0
    assert (
        page.eval_on_selector("#current-img", "img => getComputedStyle(img).borderRadius") == "50%"
    )

    # When the placeholders are made and the user comes back to the page
    made = placeholders(cors_stack, "browser-avatar")
    page.goto(cors_stack.url + "/")
    sign_in(page, "browser-avatar")
    page.click("#refresh")
    wait_loaded(page, "#current-img")

    # Then before the square's URL was set, the avatar already showed the photo's dominant
    # colour and its ThumbHash, decoded into a picture
    shown = page.evaluate("window.avatarShown")
    assert shown
    first = shown[0]
    assert re.search(r"\.medium\.sq\d+\.webp\?", first["src"])
    assert first["placeholder"] == "thumbhash"
    assert first["backgroundImage"].startswith('url("data:image/png;base64,')
    assert first["backgroundColor"] == rgb(made["profilePhotoColor"])
    # and once the square has loaded, the placeholder is gone from behind it
    expect(page.locator("#current-img")).to_have_css("background-image", "none")


def test_each_action_clears_what_the_previous_one_left(
    cors_stack: RunningStack, page: Page, tmp_path: Path
) -> None:
    # Given an upload that succeeded: its message, a full progress bar
    page.goto(cors_stack.url + "/")
    sign_in(page, "browser-actions")
    upload(page, write(tmp_path, "good.png", images.png_bytes()))
    expect(page.locator("#progress")).to_be_visible()

    # When the next upload fails
    page.set_input_files("#file", str(write(tmp_path, "liar.jpg", images.png_bytes())))
    page.click("#send")

    # Then only its error shows: no success message, no progress bar left at its last value
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#status")).to_have_text("")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#progress-text")).to_have_text("")

    # When the user exports, then loads their photos again
    page.click("#export-button")
    expect(page.locator("#status")).to_contain_text("Exported 1 photo")
    expect(page.locator("#error")).to_be_hidden()
    page.click("#refresh")

    # Then the export's message and list are gone too (they described the page before)
    expect(page.locator("#status")).to_have_text("")
    expect(page.locator("#export-list li")).to_have_count(0)
    expect(page.locator("#history li[data-asset-id]")).to_have_count(1)

    # When another user's token comes, Then nothing of the first user stays on the page
    sign_in(page, "browser-actions-other")
    expect(page.locator("#history li")).to_have_count(0)
    expect(page.locator("#current")).to_be_hidden()
    expect(page.locator("#who")).to_have_text("Not loaded yet.")


# --- the API's Swagger UI at /docs ------------------------------------------------------------


def open_operation(page: Page, tag: str, operation_id: str) -> Locator:
    """Expand one operation of the Swagger UI page: its block."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary-control").click()
    expect(block.locator(".opblock-body")).to_be_visible()
    return block


def execute(block: Locator) -> tuple[str, Locator]:
    """Press Execute in an operation being tried out, once any earlier answer is cleared: the
    status Swagger UI shows, and the cell with the body and headers it shows."""
    clear = block.locator("button.btn-clear")
    if clear.is_visible():
        clear.click()
    expect(block.locator(".live-responses-table")).to_have_count(0)
    block.locator("button.execute").click()
    live = block.locator(".live-responses-table tbody")
    expect(live.locator(".response-col_status")).to_have_text(re.compile(r"^\d{3}$"))
    return live.locator(".response-col_status").inner_text(), live.locator(
        ".response-col_description"
    )


def shown_json(details: Locator) -> Any:
    """The response body Swagger UI shows, as JSON."""
    return json.loads(details.locator("pre.microlight").first.inner_text())


def test_docs_show_every_operation_with_its_error_responses(
    cors_stack: RunningStack, page: Page
) -> None:
    # Given the operations openapi.yaml describes
    document = OpenApi.load()
    operations = {
        (op["tags"][0], op["operationId"]): op
        for item in document.document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    }
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))

    # When the developer opens /docs
    page.goto(cors_stack.url + "/docs")

    # Then Swagger UI shows every operation, and no other
    expect(page.locator(".opblock")).to_have_count(len(operations))
    shown = page.eval_on_selector_all(".opblock", "all => all.map(block => block.id)")
    assert sorted(shown) == sorted(f"operations-{tag}-{name}" for tag, name in operations)

    # When they open the multipart upload
    upload = open_operation(page, "upload", "uploadProfilePhoto")
    # Then its header parameter shows by name, resolved from its $ref
    expect(upload.locator("tr[data-param-name='Idempotency-Key']")).to_contain_text(
        "A retried request with the same key returns the first answer."
    )
    # and every documented status has its row and description, the errors included
    spec = operations[("upload", "uploadProfilePhoto")]
    assert {"401", "415"} <= set(spec["responses"])
    expect(upload.locator("tr.response")).to_have_count(len(spec["responses"]))
    for status, response in spec["responses"].items():
        row = upload.locator(f"tr.response[data-code='{status}']")
        description = document.resolve(response)["description"]
        expect(row.locator(".response-col_description").first).to_contain_text(description)
    expect(upload).not_to_contain_text("#/components/")

    # and everything the page loaded came from the stack itself
    assert loaded
    assert all(url.startswith(cors_stack.url + "/") for url in loaded), loaded
    assert cors_stack.url + "/openapi.json" in loaded
    assert not failures


def test_docs_try_it_out_reaches_the_local_stack(cors_stack: RunningStack, page: Page) -> None:
    # Given a dev token (`make token`) and a photo uploaded with it
    token = cors_stack.post("/dev/token", json={"userId": "swagger-user"}).json()["data"]["token"]
    uploaded = cors_stack.post(
        "/api/storage/profile-photo/upload",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("face.jpg", images.jpeg_bytes(), "image/jpeg")},
    ).json()["data"]
    page.goto(cors_stack.url + "/docs")

    # When the developer tries GraphQL before authorizing, Then the stack's 401 shows
    graphql = open_operation(page, "graphql", "graphql")
    graphql.locator(".try-out__btn").click()
    query = {"query": "{ me { id profilePhotos { assetId } } }"}
    graphql.locator("textarea.body-param__text").fill(json.dumps(query))
    status, details = execute(graphql)
    assert status == "401"
    assert shown_json(details)["error"]["code"] == "UNAUTHORIZED"

    # When they authorize with the token and execute again, Then the stack answers as them
    page.click("button.authorize")
    page.fill(".modal-ux input", token)
    page.click(".modal-ux button.auth")
    page.click(".modal-ux button.btn-done")
    status, details = execute(graphql)
    assert status == "200"
    assert shown_json(details) == {
        "data": {"me": {"id": "swagger-user", "profilePhotos": [{"assetId": uploaded["assetId"]}]}}
    }
    expect(graphql.locator(".request-url")).to_contain_text(f"{cors_stack.url}/graphql")

    # When they try the signed GET with the upload's URL, Then the stack serves the photo
    url = urlsplit(uploaded["uploadUrl"])
    bucket, file_path = url.path.removeprefix("/api/storage/signed/").split("/", 1)
    fetch = open_operation(page, "delivery", "fetchSignedFile")
    fetch.locator(".try-out__btn").click()
    fetch.locator("tr[data-param-name='bucket'] input").fill(bucket)
    fetch.locator("tr[data-param-name='filePath'] input").fill(file_path)
    fetch.locator("tr[data-param-name='token'] input").fill(parse_qs(url.query)["token"][0])
    status, details = execute(fetch)
    assert status == "200"
    etag = requests.get(uploaded["uploadUrl"], timeout=30).headers["ETag"]
    expect(details.locator(".headerline", has_text="etag:")).to_contain_text(etag)
    expect(details.locator(".headerline", has_text="content-type:")).to_contain_text("image/jpeg")
    wait_loaded(page, "#operations-delivery-fetchSignedFile .live-responses-table img")

    # When the token is not the URL's, Then the stack's 403 envelope shows
    fetch.locator("tr[data-param-name='token'] input").fill("not-a-token")
    status, details = execute(fetch)
    assert status == "403"
    assert shown_json(details)["error"]["code"] == "FORBIDDEN"
