/* The chat page: sends messages to the JSON API and shows every reply as plain text.
 * Written for old in-app browsers too (WeChat, iOS Safari 12+): no optional chaining, no
 * modules. Every reply is inserted with textContent, never as markup. The transcript is kept in
 * this browser (localStorage) so that a reload shows the conversation the server continues.
 */
(function () {
  "use strict";

  var STORE_KEY = "luohu.web.transcript.v1";
  var KEEP_MS = 30 * 24 * 3600 * 1000; /* the server forgets an idle conversation after 30 days */
  var MAX_ITEMS = 80;
  var RETRIES = 2; /* after a lost connection; the message id keeps a retry from stepping twice */
  var RETRY_MS = 1000;
  var CATALOGUES = {
    professional: "专业技术人员职业资格目录",
    skilled: "高技能人才职业/工种目录",
    lingang: "临港新片区紧缺技能人才职业目录"
  };
  var TITLES = { intermediate: "中级职称", senior: "高级职称" };

  var app = document.getElementById("app");
  var log = document.getElementById("log");
  var optionsBox = document.getElementById("options");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var restartButton = document.getElementById("restart");
  var copyButton = document.getElementById("copy");
  var forgetButton = document.getElementById("forget");
  var intro = log.firstElementChild;
  var maxText = parseInt(app.getAttribute("data-max-text"), 10) || 500;
  var state = loadState();
  var busy = false;

  function freshState() {
    return { items: [], options: [], first: "", saved: Date.now() };
  }

  function loadState() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      if (saved && saved.items instanceof Array && Date.now() - saved.saved < KEEP_MS) {
        return saved;
      }
    } catch (e) { /* storage blocked or unreadable: start empty */ }
    return freshState();
  }

  function saveState() {
    state.saved = Date.now();
    state.items = state.items.slice(-MAX_ITEMS);
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* private mode: the page still works, a reload starts empty */ }
  }

  function citationName(code) {
    var match = /^([a-z]+)#([A-Za-z0-9_-]+)$/.exec(code);
    if (!match) { return code; }
    if (match[1] === "note") { return "注" + match[2]; }
    if (match[1] === "title") { return TITLES[match[2]] || code; }
    if (match[1] === "bg") { return "背景信息"; }
    if (CATALOGUES[match[1]]) { return CATALOGUES[match[1]] + "第" + match[2] + "项"; }
    return code;
  }

  function bubble(item) {
    var div = document.createElement("div");
    div.className = "msg " + item.who;
    div.textContent = item.text;
    if (item.cites && item.cites.length) {
      var cites = document.createElement("p");
      cites.className = "cites";
      var names = [];
      item.cites.map(citationName).forEach(function (name) {
        if (names.indexOf(name) < 0) { names.push(name); }
      });
      cites.textContent = "依据:" + names.join("、");
      div.appendChild(cites);
    }
    log.appendChild(div);
    return div;
  }

  function scrollToEnd() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function addItem(item) {
    state.items.push(item);
    bubble(item);
    saveState();
    scrollToEnd();
  }

  function renderOptions(options) {
    while (optionsBox.firstChild) { optionsBox.removeChild(optionsBox.firstChild); }
    options.forEach(function (option) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = option;
      button.disabled = busy;
      button.addEventListener("click", function () { send(option, false, false); });
      optionsBox.appendChild(button);
    });
  }

  function showStatus(text) {
    statusLine.textContent = text;
    statusLine.hidden = !text;
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    restartButton.disabled = value;
    forgetButton.disabled = value;
    var buttons = optionsBox.getElementsByTagName("button");
    for (var i = 0; i < buttons.length; i += 1) { buttons[i].disabled = value; }
    copyButton.disabled = value || !state.first;
  }

  function clearLog() {
    while (log.lastChild && log.lastChild !== intro) { log.removeChild(log.lastChild); }
  }

  function failure(message) {
    var error = new Error(message);
    error.friendly = message;
    return error;
  }

  /* A random message id: a retry with the same id gets the kept reply, not a second step. */
  function messageId() {
    var bytes = new Uint8Array(12);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i += 1) { bytes[i] = Math.floor(Math.random() * 256); }
    }
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function later(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  /* POST to the API; resolves with the reply object, rejects with a friendly message. A lost
   * connection is retried (same body, so the same message id) ``retries`` times. */
  function post(path, body, retries) {
    var init = { method: "POST", credentials: "same-origin", headers: {} };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return window.fetch(path, init).then(function (response) {
      return response.json().catch(function () {
        throw failure("服务器暂时没有回应(" + response.status + "),请稍后再试。");
      }).then(function (data) {
        if (!response.ok) {
          throw failure((data && data.message) || "出错了(" + response.status + "),请稍后再试。");
        }
        return data;
      });
    }, function () {
      if (retries > 0) {
        return later(RETRY_MS).then(function () { return post(path, body, retries - 1); });
      }
      throw failure("网络好像断了,请检查网络后再试。");
    });
  }

  function receive(reply) {
    if (reply.forget) {
      state = freshState();
      clearLog();
    }
    addItem({ who: "bot", text: reply.text, cites: reply.result ? reply.result.citations : [] });
    state.options = reply.options || [];
    renderOptions(state.options);
    saveState();
  }

  function showError(error, typed, text) {
    if (text) {  /* not answered: not part of the conversation a reload shows */
      state.items.pop();
      saveState();
    }
    var note = bubble({ who: "error", text: error.friendly || "出错了,请稍后再试。" });
    note.setAttribute("data-error", "1");
    scrollToEnd();
    renderOptions(state.options);
    if (typed && !input.value) { input.value = text; }
  }

  /* typed: the person's own words (the first becomes the shared link); refocus: from the form. */
  function send(text, typed, refocus) {
    if (busy || !text.replace(/\s+/g, "")) { return; }
    if (text.length > maxText) {
      showStatus("一条消息最多 " + maxText + " 个字,请精简后再发。");
      return;
    }
    showStatus("");
    addItem({ who: "me", text: text });
    setBusy(true);
    post("api/chat", { text: text, id: messageId() }, RETRIES).then(function (reply) {
      if (typed && !state.first && !reply.forget) { state.first = text; }
      receive(reply);
    }, function (error) {
      showError(error, typed, text);
    }).then(function () {
      setBusy(false);
      if (refocus) { input.focus(); }
    });
  }

  /* 「重新开始」 and 「删除我的数据」: the server answers, the page starts empty. */
  function startOver(path) {
    if (busy) { return; }
    showStatus("");
    setBusy(true);
    post(path, null, RETRIES).then(function (reply) {
      state = freshState();
      clearLog();
      receive(reply);
    }, function (error) {
      showError(error, false, "");
    }).then(function () { setBusy(false); });
  }

  function shareLink() {
    var base = window.location.href.split("#")[0].split("?")[0];
    return base + "?q=" + encodeURIComponent(state.first);
  }

  function copyByCommand(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "hidden-label";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(area);
    return copied;
  }

  function copyLink() {
    var link = shareLink();
    var done = function () { showStatus("链接已复制:" + link); };
    var manual = function () {
      if (copyByCommand(link)) { done(); } else { showStatus("请手动复制这个链接:" + link); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(done, manual);
    } else {
      manual();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (busy || !text.replace(/\s+/g, "")) { return; }
    input.value = "";
    send(text, true, true);
  });
  restartButton.addEventListener("click", function () { startOver("api/reset"); });
  copyButton.addEventListener("click", copyLink);
  forgetButton.addEventListener("click", function () { startOver("api/forget"); });

  state.items.forEach(bubble);
  renderOptions(state.options || []);
  copyButton.disabled = !state.first;

  var query = /[?&]q=([^&#]*)/.exec(window.location.search);
  if (query) {
    var question = "";
    try { question = decodeURIComponent(query[1].replace(/\+/g, " ")); } catch (e) { question = ""; }
    window.history.replaceState(null, "", window.location.pathname);
    if (question) { send(question.slice(0, maxText), true, false); }
  } else if (state.items.length) {
    scrollToEnd();
  }
})();
