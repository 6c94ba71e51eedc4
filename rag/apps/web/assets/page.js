() => {
  // Citation markers and source links are plain links (#src/...) inside sanitised chat HTML.
  // One listener on the document turns a click on any of them into a click on the hidden
  // "open source" button, whose event reads window.ragSourceTarget and renders the panel.
  if (window.ragSourcesReady) return;
  window.ragSourcesReady = true;

  function scrollWhenShown(href) {
    const started = Date.now();
    const tick = () => {
      const panel = document.querySelector("#rag-sources .rag-panel");
      if (panel && panel.getAttribute("data-target") === href) {
        const body = panel.querySelector(".rag-panel-body");
        const anchor = panel.querySelector(".rag-anchor") || panel.querySelector(".rag-hl");
        if (body && anchor) {
          body.scrollTop = anchor.offsetTop; // the body is the anchor's offsetParent (position: relative)
        }
        panel.scrollIntoView({ block: "nearest" });
        return;
      }
      if (Date.now() - started < 10000) setTimeout(tick, 40);
    };
    tick();
  }

  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest('a[href^="#src/"]') : null;
      if (!link) return;
      event.preventDefault();
      event.stopPropagation();
      const href = link.getAttribute("href");
      window.ragSourceTarget = href;
      document.querySelectorAll("a.rag-active").forEach((a) => a.classList.remove("rag-active"));
      link.classList.add("rag-active");
      const holder = document.querySelector("#rag-open-source");
      const button = holder && (holder.tagName === "BUTTON" ? holder : holder.querySelector("button"));
      if (button) button.click();
      scrollWhenShown(href);
    },
    true,
  );
}
