// Drop-in chat widget: <script src="https://HOST/widget.js" data-lang="zh" defer></script> adds a floating button
// that opens the server's /embed page in an iframe. It carries no key: the server decides who may frame it, and
// where the server sets a token, the wiki's server mints a short-lived session per page view (data-session).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.RagWidget) return;
  var data = script.dataset;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var asked = data.lang || navigator.language || "";
  var lang = asked.toLowerCase().split("-")[0] === "zh" ? "zh" : "en";
  var label = data.title || (lang === "zh" ? "问问资料" : "Ask the articles");
  var color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#2563eb";
  var side = data.position === "left" ? "left" : "right";

  // A shadow root keeps the wiki's styles off the widget and the widget's off the wiki.
  var host = document.createElement("div");
  host.id = "rag-widget";
  var shadow = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".open{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;border:none;border-radius:24px;" +
    "padding:12px 18px;background:" + color + ";color:#fff;font:600 14px system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".panel{position:fixed;bottom:76px;" + side + ":20px;z-index:2147483000;width:min(400px,calc(100vw - 40px));" +
    "height:min(600px,calc(100vh - 100px));border-radius:12px;overflow:hidden;background:#fff;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.3);display:flex;flex-direction:column}" +
    ".panel[hidden]{display:none}" +
    ".bar{display:flex;justify-content:space-between;align-items:center;padding:6px 10px;background:" + color + ";" +
    "color:#fff;font:600 13px system-ui,sans-serif}" +
    ".bar button{border:none;background:none;color:#fff;font-size:18px;cursor:pointer;line-height:1}" +
    "iframe{flex:1;border:none;width:100%}";
  var button = document.createElement("button");
  button.className = "open";
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  var panel = document.createElement("div");
  panel.className = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", label);
  var bar = document.createElement("div");
  bar.className = "bar";
  var heading = document.createElement("span");
  heading.textContent = label;
  var close = document.createElement("button");
  close.type = "button";
  close.textContent = "×";
  close.setAttribute("aria-label", lang === "zh" ? "关闭" : "Close");
  bar.appendChild(heading);
  bar.appendChild(close);
  panel.appendChild(bar);
  shadow.appendChild(style);
  shadow.appendChild(panel);
  shadow.appendChild(button);

  var frame = null;
  function open() {
    if (!frame) {
      // Loaded on first open only, so a wiki page pays nothing until someone asks.
      frame = document.createElement("iframe");
      // The session rides in the fragment, which no server, proxy or log ever sees.
      frame.src = base + "/embed?lang=" + lang + (data.kb ? "&kb=" + encodeURIComponent(data.kb) : "") +
        (data.session ? "#session=" + encodeURIComponent(data.session) : "");
      frame.title = label;
      panel.appendChild(frame);
    }
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
  }
  function hide() {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
  }
  button.addEventListener("click", function () { if (panel.hidden) open(); else hide(); });
  close.addEventListener("click", hide);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") hide(); });
  window.RagWidget = { open: open, close: hide };
  (document.body || document.documentElement).appendChild(host);
})();
