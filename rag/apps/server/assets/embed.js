// The widget's page: ask, show the cited answer, open a cited source in place. Text only ever goes in through
// textContent, so markup in a question, an answer or an article shows as text.
(function () {
  "use strict";
  var root = document.getElementById("rag-embed");
  var base = root.dataset.base || "";
  var tables = JSON.parse(document.getElementById("rag-strings").textContent);
  var asked = new URLSearchParams(location.search).get("lang") || navigator.language || "";
  var lang = asked.toLowerCase().split("-")[0] === "zh" ? "zh" : "en";
  // A session the wiki's server minted, handed over in the fragment; kept in memory and sent as a header.
  var session = new URLSearchParams(location.hash.slice(1)).get("session") || "";
  // The knowledge base the wiki's snippet names (data-kb); the server answers 404 for one it does not have.
  var kb = new URLSearchParams(location.search).get("kb") || "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  var authorisation = session ? { "X-RAG-Session": session } : {};
  var WINDOW = 150; // lines of context fetched on each side of a citation
  var RELATED = 3;  // related passages listed under a decline
  var TURNS = 10;   // earlier turns sent with a question, so a follow-up ("它是谁发布的？") is understood
  var turns = [];   // this conversation's turns, kept in memory only

  function say(key, values) {
    var text = tables[lang][key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(String(values[name])); });
    return text;
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function lines(start, end) {
    return start === end ? say("line", { start: start }) : say("lines", { start: start, end: end });
  }

  var chat = document.getElementById("rag-chat");
  var source = document.getElementById("rag-source");
  var form = document.getElementById("rag-form");
  var input = document.getElementById("rag-question");
  var send = document.getElementById("rag-send");
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.getElementById("rag-intro").textContent = say("embed_intro");
  document.getElementById("rag-back").textContent = say("back");
  input.placeholder = say("input_placeholder");
  send.textContent = say("send");

  function sourceLink(label, target) {
    var button = el("button", "", label);
    button.type = "button";
    button.addEventListener("click", function () { openSource(target); });
    return button;
  }

  function renderAnswer(box, result) {
    box.textContent = "";
    if (result.understood_as) box.appendChild(el("p", "rag-understood", say("understood_as", { question: result.understood_as })));
    if (result.notice) box.appendChild(el("p", "rag-understood rag-answer-notice", result.notice));
    if (result.small_talk) { box.appendChild(el("p", "", result.answer)); return; }
    if (result.refused) {
      box.classList.add("rag-refused");
      box.appendChild(el("h4", "", say("refused_title")));
      box.appendChild(el("p", "", result.answer));
      var related = el("ul", "rag-list");
      related.appendChild(el("li", "rag-hint", say("related")));
      result.passages.slice(0, RELATED).forEach(function (passage) {
        var item = el("li");
        item.appendChild(sourceLink(passage.title + " · " + lines(passage.line_start, passage.line_end), passage));
        var text = passage.text.replace(/\s+/g, " ");  // a passage's lines, run into one excerpt
        item.appendChild(el("span", "rag-quote", text.length > 120 ? text.slice(0, 120) + "…" : text));
        related.appendChild(item);
      });
      box.appendChild(related);
      return;
    }
    // The section a quote stands in, after its article's title ("员工手册 › 着装规范").
    function under(citation) { return citation.section ? " › " + citation.section : ""; }
    var byNumber = {};
    result.citations.forEach(function (citation) { byNumber[citation.n] = citation; });
    var paragraph = el("p");
    result.answer.split(/(\[\d+\])/).forEach(function (part) {
      var marker = /^\[(\d+)\]$/.exec(part);
      var citation = marker && byNumber[marker[1]];
      if (!citation) { paragraph.appendChild(document.createTextNode(part)); return; }
      var button = el("button", "rag-marker", part);
      button.type = "button";
      button.title = citation.title + under(citation) + " · " + lines(citation.line_start, citation.line_end);
      button.addEventListener("click", function () { openSource(citation); });
      paragraph.appendChild(button);
    });
    box.appendChild(paragraph);
    var list = el("ol", "rag-list");
    list.appendChild(el("li", "rag-hint", say("sources")));
    result.citations.forEach(function (citation) {
      var item = el("li");
      item.appendChild(sourceLink("[" + citation.n + "] " + citation.title + under(citation) + " · " + lines(citation.line_start, citation.line_end), citation));
      item.appendChild(el("span", "rag-quote", citation.quote));
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  // Thumbs up/down with an optional comment under an answer, stored by the server (POST /embed/api/feedback).
  function feedbackRow(result) {
    var row = el("div", "rag-feedback");
    var comment = el("input", "rag-feedback-comment");
    comment.type = "text";
    comment.maxLength = 2000;
    comment.placeholder = say("feedback_comment_short");
    row.appendChild(comment);
    [["up", "\ud83d\udc4d", "feedback_up"], ["down", "\ud83d\udc4e", "feedback_down"]].forEach(function (choice) {
      var button = el("button", "rag-thumb rag-thumb-" + choice[0], choice[1]);
      button.type = "button";
      button.title = say(choice[2]);
      button.setAttribute("aria-label", say(choice[2]));
      button.addEventListener("click", function () {
        var body = {
          rating: choice[0], question: result.question, answer: result.answer, citations: result.citations,
          refused: result.refused, comment: comment.value.trim(),
        };
        if (result.understood_as) body.understood_as = result.understood_as;
        if (kb) body.kb = kb;
        fetch(base + "/embed/api/feedback", {
          method: "POST",
          headers: Object.assign({ "Content-Type": "application/json" }, authorisation),
          body: JSON.stringify(body),
        }).then(function (response) {
          return response.json().then(function (reply) {
            row.textContent = response.ok ? say("feedback_thanks") : say("error_reply", { error: reply.error || response.statusText });
          });
        }).catch(function (error) { row.textContent = say("error_reply", { error: error.message }); });
      });
      row.appendChild(button);
    });
    return row;
  }

  // `building`: the server answered 503 with Retry-After, still getting ready (its index built or loaded); any other failure (a damaged
  // index, an assistant that could not start, an error event mid-stream) shows the server's one-line message.
  // `plain`: the message is the reader's own words already, shown as it is.
  function showError(box, building, message, plain) {
    box.classList.add("rag-error");
    box.textContent = building ? say("not_ready_reply") : plain ? message : say("error_reply", { error: message });
  }

  // Reads a server-sent event stream, calling onEvent(name, data) for each event as it arrives.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (step) {
        buffer += decoder.decode(step.value || new Uint8Array(0), { stream: !step.done });
        var blocks = buffer.split("\n\n");
        buffer = step.done ? "" : blocks.pop();
        blocks.forEach(function (block) {
          var name = "message";
          var data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) name = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          if (data) onEvent(name, JSON.parse(data));
        });
        if (!step.done) return pump();
      });
    }
    return pump();
  }

  // The answer as it streams in: the question as understood, a language model's draft (marked as such) or the
  // answer's text in pieces. The final `answer` event replaces all of it with the checked, cited answer.
  function streamInto(box, response) {
    var final = null;
    var failed = null;
    var text = null;
    return readEvents(response, function (name, data) {
      if (name === "question") {
        box.textContent = "";
        if (data.understood_as) box.appendChild(el("p", "rag-understood", say("understood_as", { question: data.understood_as })));
      } else if (name === "draft") {
        box.appendChild(el("p", "rag-understood rag-draft-note", say("drafting")));
      } else if (name === "delta") {
        if (!text) {
          text = box.appendChild(el("p", data.draft ? "rag-draft" : "rag-streaming", ""));
        }
        text.textContent += data.text;
      } else if (name === "answer") {
        final = data;
      } else if (name === "error") {
        failed = data;
      }
    }).then(function () {
      if (final) return final;
      throw { message: failed ? failed.error : say("stream_cut") };
    });
  }

  function ask(question) {
    chat.appendChild(el("div", "rag-question", question));
    var box = el("div", "rag-answer", say("thinking"));
    chat.appendChild(box);
    box.scrollIntoView({ block: "end" });
    send.disabled = true;
    return fetch(base + "/embed/api/ask", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json", "Accept": "text/event-stream" }, authorisation),
      body: JSON.stringify(Object.assign({ question: question, history: turns.slice(-TURNS), stream: true }, kb ? { kb: kb } : {})),
    }).then(function (response) {
      var streamed = (response.headers.get("Content-Type") || "").indexOf("text/event-stream") === 0;
      if (response.ok && streamed) return streamInto(box, response);
      // Refused before any event (bad question, rate limit, not ready): a JSON error with its status.
      return response.json().then(function (body) {
        if (!response.ok) {
          var building = response.status === 503 && response.headers.has("Retry-After");
          // Without the wiki's session the server's 401 speaks to whoever runs it (tokens, commands): a reader is
          // told what to ask for instead.
          if (response.status === 401) throw { message: say("needs_access"), plain: true };
          throw { building: building, message: body.error || response.statusText };
        }
        return body;
      });
    }).then(function (body) {
      renderAnswer(box, body);
      if (!body.small_talk) box.appendChild(feedbackRow(body));
      turns.push({ question: question, answer: body.answer });
    }).catch(function (error) {
      box.classList.remove("rag-refused");
      showError(box, Boolean(error.building), error.message || String(error), Boolean(error.plain));
    }).then(function () {
      send.disabled = false;
      box.scrollIntoView({ block: "nearest" });
    });
  }

  function openSource(target) {
    var start = Math.max(1, target.line_start - WINDOW);
    var url = base + "/embed/api/sources/" + target.file.split("/").map(encodeURIComponent).join("/") +
      "?start=" + start + "&end=" + (target.line_end + WINDOW) + (kb ? "&kb=" + encodeURIComponent(kb) : "");
    fetch(url, { headers: authorisation }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (reply) {
      var list = document.getElementById("rag-lines");
      list.textContent = "";
      document.getElementById("rag-source-title").textContent = reply.ok ? (reply.body.title || target.file) : target.file;
      document.getElementById("rag-source-range").textContent = reply.ok
        ? lines(target.line_start, target.line_end) + " · " + target.file
        : (reply.body && reply.body.error) || say("panel_missing", { file: target.file });
      var first = null;
      (reply.ok ? reply.body.lines : []).forEach(function (line) {
        var item = el("li");
        item.value = line.n;
        var cited = line.n >= target.line_start && line.n <= target.line_end;
        // The line as the index read it (markup removed, entities decoded): the text a quote stands in.
        var text = typeof line.clean === "string" ? line.clean : line.text;
        var at = cited && target.quote ? text.indexOf(target.quote) : -1;
        if (at >= 0) {
          // A long line (a whole HTML body) would hide the quote: mark exactly where it stands.
          item.appendChild(document.createTextNode(text.slice(0, at)));
          item.appendChild(el("mark", "", target.quote));
          item.appendChild(document.createTextNode(text.slice(at + target.quote.length)));
        } else {
          item.textContent = text || "\u00a0";
        }
        if (cited) { item.classList.add("rag-cited"); first = first || item; }
        list.appendChild(item);
      });
      chat.hidden = true;
      source.hidden = false;
      var mark = list.querySelector("mark");
      (mark || first || list).scrollIntoView({ block: "center" });
    });
  }

  document.getElementById("rag-back").addEventListener("click", function () {
    source.hidden = true;
    chat.hidden = false;
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // Only now can a question be asked: until here, Enter would have asked nothing (embed.html).
  input.disabled = false;
  send.disabled = false;
})();
