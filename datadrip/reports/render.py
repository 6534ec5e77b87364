"""A report record rendered through Jinja2 templates: HTML for e-mail (table layout, CSS inlined,
images by Content-ID) or for a file (images as data URIs), plain text and Markdown.

Templates come from datadrip/templates, and a file of the same name in `[reports] template_dir`
replaces ours. HTML templates escape everything they print: a campaign named `<script>` shows as
text. Every template sees the report record (see datadrip.reports.build) and the filters below."""

from __future__ import annotations

import base64
import functools
import html as html_lib
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datadrip.core.errors import ConfigError, UsageError
from datadrip.reports import formatting as f
from datadrip.reports.charts import Chart
from datadrip.reports.summary import escape, plain

TEMPLATES = {"html": "report.html.j2", "txt": "report.txt.j2", "md": "report.md.j2"}
_NOT_MARKDOWN_ESCAPES = re.compile(r"\\(.)", re.DOTALL)  # pairs, so an escaped backslash stays
KIND_WORDS = {"daily": "daily report", "weekly": "weekly report", "monthly": "monthly report",
              "custom": "report"}


@dataclass(frozen=True)
class Image:
    """A picture the HTML shows: a chart or the agency's logo."""

    name: str
    filename: str
    mime_type: str
    data: bytes
    alt: str

    @property
    def content_id(self) -> str:
        return f"{self.name}@datadrip"

    @property
    def data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def images_for(record: dict[str, Any], charts: Sequence[Chart]) -> list[Image]:
    """The charts, and the logo when its file is still there (a moved logo is left out)."""
    images = [Image(chart.name, f"{chart.name}.png", "image/png", chart.png, chart.title)
              for chart in charts]
    logo = record["agency"].get("logo")
    if logo:
        path = Path(logo)
        try:
            data = path.read_bytes()
        except OSError:
            return images
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        images.append(Image("logo", f"logo{path.suffix.lower()}", mime_type, data,
                            record["agency"]["name"]))
    return images


def heading(record: dict[str, Any]) -> str:
    """"Daily report, 23 Nov 2026"."""
    period, locale = record["period"], record["agency"]["locale"]
    words = KIND_WORDS[record["kind"]]
    return f"{words[0].upper()}{words[1:]}, {f.day_range(period['since'], period['until'], locale)}"


def subject(record: dict[str, Any]) -> str:
    """"Acme Shoes — daily report, 23 Nov 2026", on one line whatever the client is called."""
    name = " ".join(record["client"]["name"].split())
    title = heading(record)
    return f"{name} — {title[0].lower()}{title[1:]}"


def render(record: dict[str, Any], fmt: str, *, images: Sequence[Image] = (),
           embed: bool = True, template_dir: str = "") -> str:
    """The report in `fmt` (html, txt or md). For HTML, `embed` puts images in as data URIs (a
    file to open); otherwise they are referenced as cid: for an e-mail's related parts."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

    environment = _environment(template_dir)
    name = TEMPLATES[fmt]
    sources = {image.name: (image.data_uri if embed else f"cid:{image.content_id}") for image in images}
    context = {**record, "subject": subject(record), "heading": heading(record),
               "locale": record["agency"]["locale"],
               "colour": record["agency"]["colour"] or "#1A73E8", "images": sources,
               "image_alt": {image.name: image.alt for image in images},
               "summary_text": plain(record["summary"])}
    try:
        text = environment.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        raise UsageError(f"template {exc.filename or name}:{exc.lineno}: {exc.message}",
                         hint="Fix the template in [reports] template_dir.") from None
    except TemplateNotFound:
        raise UsageError(f"template {name} not found") from None
    except TemplateError as exc:
        raise UsageError(f"template {name} failed: {exc.message}",
                         hint="Templates may use the fields of `datadrip report build --format json`.") \
            from None
    return _inline_css(text) if fmt == "html" else text


def _inline_css(page: str) -> str:
    """CSS moved into style attributes, as Gmail and Outlook need; media queries stay in <style>."""
    import css_inline

    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)
    return str(inliner.inline(page))


@functools.lru_cache(maxsize=8)
def _environment(template_dir: str) -> Any:
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

    loaders: list[Any] = []
    if template_dir:
        folder = Path(template_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"[reports] template_dir {template_dir!r} is not a folder",
                              hint="Create it, or leave template_dir empty for the built-in templates.")
        loaders.append(FileSystemLoader(str(folder)))
    loaders.append(PackageLoader("datadrip", "templates"))
    environment = Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                              autoescape=lambda name: bool(name and name.endswith(".html.j2")),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters.update(_filters())
    return environment


def _markdown(context: Any, text: str) -> Any:
    """Markdown to HTML, with any HTML in the text escaped first: names can never become markup.
    Python-Markdown does not undo summary.escape()'s \\| \\~ (nor \\< \\> \\&, once HTML-escaped),
    so those backslashes go first: "Chai & Co | Search" must not read "Chai \\& Co \\| Search"."""
    import markdown
    from markupsafe import Markup

    text = _NOT_MARKDOWN_ESCAPES.sub(lambda m: m.group(1) if m.group(1) in "<>&|~" else m.group(0), text)
    return Markup(markdown.markdown(html_lib.escape(text, quote=False)))


def _filters() -> dict[str, Any]:
    from jinja2 import pass_context

    def money(context: Any, value: Any) -> str:
        return f.money(value, context["currency"], context["locale"])

    def number(context: Any, value: Any) -> str:
        return f.number(value, context["locale"])

    def percent(context: Any, value: Any, signed: bool = False) -> str:
        return f.percent(value, context["locale"], signed=signed)

    def ratio(context: Any, value: Any) -> str:
        return f.ratio(value, context["locale"])

    def share(context: Any, value: Any) -> str:
        return f.share(value, context["locale"])

    def metric(context: Any, item: dict[str, Any], key: str = "value") -> str:
        return f.metric(item["metric"], item[key], context["currency"], context["locale"])

    def day(context: Any, value: Any) -> str:
        return f.day(value, context["locale"])

    def month(context: Any, value: Any) -> str:
        return f.month(value, context["locale"])

    def day_range(context: Any, period: dict[str, Any]) -> str:
        return f.day_range(period["since"], period["until"], context["locale"])

    def moment(context: Any, value: Any) -> str:
        return f.moment(value, context["agency"]["timezone"], context["locale"])

    functions = {"money": money, "number": number, "percent": percent, "ratio": ratio, "share": share,
                 "metric": metric, "day": day, "month": month, "day_range": day_range, "moment": moment,
                 "markdown": _markdown}
    found: dict[str, Any] = {name: pass_context(function)  # type: ignore[type-var]
                             for name, function in functions.items()}
    found["label"] = lambda name: f.KPI_LABELS.get(name, name)
    found["md"] = escape  # a name as literal Markdown text
    return found
