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
        // In a long line (a whole article on one) the marked sentence may be far below the line's start.
        const mark = panel.querySelector("mark.rag-mark");
        if (body && mark && mark.offsetTop + mark.offsetHeight > body.scrollTop + body.clientHeight) {
          body.scrollTop = Math.max(0, mark.offsetTop - body.clientHeight / 3);
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

  // The admin panel: upload and delete a knowledge base's documents through the HTTP API, with the token typed
  // in (never stored), then follow the update until the new index answers and select that knowledge base.
  const api = (path) => new URL("api/kbs/" + path, document.baseURI).toString();
  const field = (id) => document.getElementById(id);
  // The page's language as Gradio chose it (rag/apps/web/text.py, language()): Chinese for zh*, English else.
  const lang = () => ((document.documentElement.lang || navigator.language || "").toLowerCase().split(/[-_]/)[0] === "zh" ? "zh" : "en");
  const word = (key, values) => {
    const panel = field("rag-admin-panel");
    const words = panel ? JSON.parse(panel.getAttribute("data-words") || "{}")[lang()] || {} : {};
    return (words[key] || key).replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  };
  const say = (state, text) => {
    const line = field("rag-admin-status");
    if (!line) return;
    line.setAttribute("data-state", state);
    line.textContent = text;
  };
  const headers = () => {
    const token = (field("rag-admin-token") || {}).value || "";
    return token ? { Authorization: "Bearer " + token } : {};
  };
  const kbName = () => ((field("rag-admin-kb") || {}).value || "").trim();
  const failed = async (response) => {
    if (response.status === 401) return word("admin_denied");
    try { return (await response.json()).error || response.statusText; } catch (e) { return response.statusText; }
  };
  const selectKb = (name) => {
    window.ragAdminKb = name;
    const holder = document.querySelector("#rag-kbs-refresh");
    const button = holder && (holder.tagName === "BUTTON" ? holder : holder.querySelector("button"));
    if (button) button.click();
  };
  const showDocuments = (name, documents) => {
    const list = field("rag-admin-docs");
    if (!list) return;
    list.textContent = "";
    documents.forEach((doc) => {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = doc.name + " (" + Math.ceil(doc.bytes / 1024) + " KB) ";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "rag-admin-delete";
      remove.setAttribute("data-name", doc.name);
      remove.textContent = word("admin_delete");
      item.appendChild(label);
      item.appendChild(remove);
      list.appendChild(item);
    });
  };
  const follow = async (name, select) => {
    for (;;) {
      const response = await fetch(api(encodeURIComponent(name)), { headers: headers() });
      if (!response.ok) { say("failed", await failed(response)); return; }
      const found = await response.json();
      showDocuments(name, found.documents || []);
      const update = found.update || {};
      if (update.state === "failed") { say("failed", update.message); return; }
      if (update.state !== "updating" && found.status === "ready") {
        say("ready", word("admin_ready", { name: name, articles: found.articles }) + (update.message ? " · " + update.message : ""));
        if (select) selectKb(name);
        return;
      }
      if (found.status === "failed") { say("failed", found.error || ""); return; }
      const progress = update.total ? " " + update.done + "/" + update.total : "";
      say("updating", word("admin_updating", { stage: (update.stage || found.status) + progress }));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  };
  document.addEventListener("click", async (event) => {
    // A button holds its words in spans (one a language): the click lands on a span.
    const target = event.target instanceof Element ? event.target.closest("button") : null;
    if (!target) return;
    if (target.id === "rag-admin-upload") {
      const name = kbName();
      const files = (field("rag-admin-files") || {}).files || [];
      if (!name || !files.length) { say("failed", word("admin_first")); return; }
      const form = new FormData();
      Array.from(files).forEach((file) => form.append("file", file, file.name));
      say("updating", word("admin_uploading"));
      const response = await fetch(api(encodeURIComponent(name) + "/documents"), { method: "POST", headers: headers(), body: form });
      if (!response.ok) { say("failed", await failed(response)); return; }
      field("rag-admin-files").value = "";
      follow(name, true);
    } else if (target.id === "rag-admin-list") {
      if (kbName()) follow(kbName(), false);
    } else if (target.classList.contains("rag-admin-delete")) {
      const name = kbName();
      const doc = target.getAttribute("data-name");
      say("updating", word("admin_deleting", { name: doc }));
      const response = await fetch(api(encodeURIComponent(name) + "/documents/" + encodeURIComponent(doc)),
        { method: "DELETE", headers: headers() });
      if (!response.ok) { say("failed", await failed(response)); return; }
      follow(name, true);
    }
  });
}
