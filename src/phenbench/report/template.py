"""The page around the sections: head, style, channel-view switch, navigation.

No script, font or style sheet comes from outside the file, so the page opens from the file
system without a network. The view switch is pure CSS: radio inputs placed before <main>, and one
rule per view that shows that view's picture in every tile (`sections.py` writes `v-composite`
and `v-c<k>` pictures).
"""

from __future__ import annotations

from html import escape

from phenbench.imaging.display import ChannelDisplay

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 0;
       color: #1b1b1b; background: #fafafa; font-size: 14px; }
header.top { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid #ddd;
             padding: 8px 20px; display: flex; flex-wrap: wrap; gap: 16px; align-items: center; }
header.top h1 { font-size: 18px; margin: 0 12px 0 0; }
header.top nav a { margin-right: 10px; color: #0b57d0; text-decoration: none; }
main { padding: 8px 20px 40px; }
h2 { border-bottom: 2px solid #333; padding-bottom: 2px; margin-top: 28px; }
h3 { margin: 24px 0 4px; font-size: 17px; }
h4 { margin: 14px 0 4px; font-size: 14px; }
.views label { border: 1px solid #888; border-radius: 4px; padding: 2px 8px; margin-right: 4px;
               cursor: pointer; user-select: none; display: inline-block; }
.views .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border: 1px solid #555; }
input.view-radio { position: absolute; opacity: 0; pointer-events: none; }
.table-wrap, .grid-wrap { overflow-x: auto; max-width: 100%; }
table.comparison { border-collapse: collapse; background: #fff; }
table.comparison th, table.comparison td { border: 1px solid #ccc; padding: 3px 7px; text-align: right;
                                           vertical-align: top; white-space: nowrap; }
table.comparison th.method { text-align: left; }
table.comparison th.metric { text-align: center; background: #eef2f7; }
table.comparison .n { display: block; font-weight: normal; color: #666; font-size: 11px; }
table.comparison .ci { display: block; color: #555; font-size: 11px; }
table.comparison td.missing { color: #a33; text-align: center; }
table.comparison tr.floor { background: #f3f3e6; font-style: italic; }
p.legend, p.note, p.run, figcaption { color: #444; font-size: 12.5px; max-width: 1100px; }
p.note { color: #8a4b00; }
ul.notes { font-size: 12px; color: #444; list-style: none; padding-left: 4px; }
table.comparison td.missing a { text-decoration: none; color: #a33; }
table.grid { border-collapse: separate; border-spacing: 2px; background: #fff; }
table.grid th { font-size: 11px; font-weight: 600; padding: 2px 4px; white-space: nowrap; }
table.grid tbody th { text-align: right; max-width: 170px; white-space: normal; }
table.grid td.tile { padding: 0; vertical-align: middle; text-align: center; background: #fff; line-height: 0; }
table.grid td.empty { background: #eee; color: #777; font-size: 10px; line-height: 1.2; padding: 2px; }
table.grid td.empty span { display: inline-block; max-width: 72px; }
table.grid tr.row-counterfactual .im, table.grid tr.row-reconstruction .im { outline: 2px dashed #999; outline-offset: 1px; }
table.grid tr.row-real th, table.grid tr.row-reconstruction th { color: #555; }
.v { display: none !important; }
.bar { display: inline-block; width: 90px; height: 10px; vertical-align: middle; border: 1px solid #999; margin: 0 4px; }
.bar-label { font-size: 11px; }
.scale { white-space: nowrap; margin-right: 14px; display: inline-block; }
figure.plot { display: inline-block; margin: 6px 10px 6px 0; background: #fff; border: 1px solid #ddd; padding: 6px; vertical-align: top; }
figure.plot img { max-width: 100%; display: block; }
figure.plot figcaption { max-width: 640px; }
figure.method-figure { margin: 8px 0; } figure.method-figure img { max-width: 100%; display: block; }
figure.method-figure figcaption { max-width: 760px; font-size: 0.9em; }
div.absent { border: 1px dashed #a66; background: #fff6f4; padding: 8px 12px; margin: 8px 0; max-width: 1100px; }
details { margin: 10px 0; }
details > summary { cursor: pointer; color: #0b57d0; font-weight: 600; }
footer { color: #777; font-size: 11px; padding: 10px 20px; }
"""


def view_controls(display: ChannelDisplay) -> tuple[str, str, str]:
    """(radio inputs, their labels, the CSS rules that show each view)."""
    views = [("composite", "composite", None)]
    if len(display.channels) > 1:
        views += [(f"c{k}", name, colour) for k, (name, colour) in enumerate(display.legend())]
    inputs = "".join(
        f'<input class="view-radio" type="radio" name="view" id="view-{key}"{" checked" if key == "composite" else ""}>'
        for key, _, _ in views
    )
    swatches = "".join(
        f'<span class="swatch" style="background:{colour}"></span>{escape(name)} ' for name, colour in display.legend()
    )
    labels = "".join(
        f'<label for="view-{key}">{swatches if key == "composite" else escape(name) + " alone"}</label>'
        for key, name, _ in views
    )
    rules = "\n".join(
        f"#view-{key}:checked ~ main .v-{key} {{ display: block !important; }}\n"
        f'#view-{key}:checked ~ header label[for="view-{key}"] {{ background: #333; color: #fff; }}'
        for key, _, _ in views
    )
    return inputs, f'<span class="views">Show: {labels}</span>', rules


def page(*, title: str, display: ChannelDisplay, nav: list[tuple[str, str]], body: str, footer: str, pictures: str) -> str:
    """The whole HTML document; `pictures` is the CSS of the image tiles (`TileRenderer.style()`)."""
    inputs, labels, rules = view_controls(display)
    links = "".join(f'<a href="#{escape(anchor)}">{escape(text)}</a>' for anchor, text in nav)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}\n{rules}</style><style>{pictures}</style></head>"
        f"<body>{inputs}"
        f'<header class="top"><h1>{escape(title)}</h1><nav>{links}</nav>{labels}</header>'
        f"<main>{body}</main><footer>{footer}</footer></body></html>\n"
    )
