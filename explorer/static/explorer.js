// The explorer page: send an image (file, drawing or gallery pick) to the local server and show what it returns.
// Everything is built with DOM calls (no innerHTML with data), and nothing is fetched but this server's /api.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#e02020", "#2050e0", "#20a040", "#f0d020", "#ffffff", "#000000", "#8b5a2b", "#909090"];
  var $ = function (id) { return document.getElementById(id); };
  var state = { colour: COLOURS[0], busy: 0, requests: 0 };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function showMessage(text) {
    var box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function api(method, path, body, headers) {
    var options = { method: method, headers: headers || {} };
    if (body !== undefined) options.body = body;
    return fetch(path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || ("the server answered " + response.status));
        return data;
      }, function () { throw new Error("the server answered " + response.status + " without a message"); });
    });
  }

  // --- results
  function showProbabilities(result) {
    var box = $("probabilities");
    box.textContent = "";
    result.probabilities.forEach(function (item) {
      var fill = el("span");
      fill.style.width = (100 * item.p).toFixed(1) + "%";
      var row = el("div", { className: "prob" + (item.label === result.predicted ? " top" : ""), "data-label": item.label }, [
        el("b", { text: item.label }), el("div", { className: "bar" }, [fill]),
        el("span", { className: "p", "data-p": String(item.p), text: item.p.toFixed(3) })]);
      box.appendChild(row);
    });
  }

  function showLayers(layers) {
    var box = $("layers");
    box.textContent = "";
    layers.forEach(function (layer) {
      var shape = layer.shape.join("×");
      box.appendChild(el("div", { className: "layer", "data-layer": layer.name }, [
        el("h3", {}, [document.createTextNode(layer.name + " "),
          el("small", { text: shape + " · " + layer.channels + " channels" +
            (layer.shown < layer.channels ? " (first " + layer.shown + " shown)" : "") })]),
        el("img", { src: layer.grid, alt: "feature maps of " + layer.name })]));
    });
  }

  function histogram(entry) {
    var d = entry.distribution, width = 150, height = 46;
    var chart = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    if (!d.edges.length) return chart;
    var low = d.edges[0], high = d.edges[d.edges.length - 1];
    var x = function (v) { return 2 + (width - 4) * (v - low) / (high - low); };
    var total = function (counts) { return counts.reduce(function (a, b) { return a + b; }, 0) || 1; };
    var peak = 0;
    [d.concept, d.random].forEach(function (counts) {
      counts.forEach(function (c) { peak = Math.max(peak, c / total(counts)); });
    });
    [[d.random, "#999999"], [d.concept, "#542788"]].forEach(function (pair) {
      var counts = pair[0], n = total(counts);
      counts.forEach(function (c, i) {
        if (!c) return;
        var h = (height - 12) * (c / n) / (peak || 1);
        chart.appendChild(svg("rect", { x: x(d.edges[i]), y: height - 10 - h, width: Math.max(1, x(d.edges[i + 1]) - x(d.edges[i]) - 0.5),
          height: h, fill: pair[1], "fill-opacity": "0.55" }));
      });
    });
    chart.appendChild(svg("line", { x1: 0, x2: width, y1: height - 10, y2: height - 10, stroke: "#bbb" }));
    if (entry.presence !== null) {
      var px = x(entry.presence);
      chart.appendChild(svg("line", { x1: px, x2: px, y1: 0, y2: height - 8, stroke: "#000", "stroke-width": 2 }));
    }
    [[0, "0"], [1, "1"]].forEach(function (tick) {
      if (tick[0] < low || tick[0] > high) return;
      var t = svg("text", { x: x(tick[0]), y: height - 1, "font-size": 8, "text-anchor": "middle", fill: "#555" });
      t.textContent = tick[1];
      chart.appendChild(t);
    });
    var title = svg("title", {});
    title.textContent = "presence of this image (black line) vs the concept's images (purple) and random images (grey)";
    chart.appendChild(title);
    return chart;
  }

  function conceptCell(entry) {
    var parts = [];
    if (entry.map) parts.push(el("img", { src: entry.map, alt: "concept map of " + entry.concept + " at " + entry.bottleneck }));
    else parts.push(el("div", { className: "muted", text: "no map: this layer has no spatial axes" }));
    var presence = entry.presence === null ? "–" : entry.presence.toFixed(2);
    parts.push(el("div", {}, [el("span", { className: "presence", text: presence }),
      el("span", { className: "muted", text: "  presence" })]));
    parts.push(histogram(entry));
    var findings = entry.findings.map(function (f) {
      var checked = f.indexOf("\u2713") >= 0 ? " confirmed" : (f.indexOf("\u2717") >= 0 ? " contradicted" : "");
      return el("span", { className: "finding" + (f.charAt(0) === "+" ? "" : " lowers") + checked, text: f + " " });
    });
    if (findings.length) parts.push(el("div", {}, findings));
    parts.push(el("div", { className: entry.learnable ? "muted" : "nl",
      text: "CAV accuracy " + entry.cav_accuracy.toFixed(2) + (entry.learnable ? "" : " · not learnable here") }));
    return el("td", { className: "cell", "data-concept": entry.concept, "data-bottleneck": entry.bottleneck }, parts);
  }

  function showConcepts(result, status) {
    var box = $("concepts");
    box.textContent = "";
    if (!result.concepts.length) {
      box.appendChild(el("p", { className: "note", text: status.problem || "This run has no concepts." }));
      return;
    }
    var head = el("tr", {}, [el("th", { text: "concept" })].concat(status.bottlenecks.map(function (b) {
      return el("th", { text: b });
    })));
    var body = status.concepts.map(function (concept) {
      var cells = status.bottlenecks.map(function (b) {
        var entry = result.concepts.filter(function (e) { return e.concept === concept && e.bottleneck === b; })[0];
        return entry ? conceptCell(entry) : el("td", { text: "–" });
      });
      return el("tr", {}, [el("th", { text: concept })].concat(cells));
    });
    box.appendChild(el("table", { className: "concepts" }, [el("thead", {}, [head]), el("tbody", {}, body)]));
  }

  function show(result) {
    $("result").hidden = false;
    $("input-image").src = result.image;
    $("source").textContent = result.source;
    showProbabilities(result);
    showLayers(result.layers);
    showConcepts(result, state.status);
    document.body.setAttribute("data-analysed", String(++state.requests));
  }

  function analyse(request) {
    state.busy += 1;
    document.body.setAttribute("data-busy", "1");
    return request.then(function (result) { showMessage(""); show(result); }, function (error) {
      showMessage(error.message);
      document.body.setAttribute("data-errors", String(Number(document.body.getAttribute("data-errors") || 0) + 1));
    }).then(function () {
      state.busy -= 1;
      if (!state.busy) document.body.removeAttribute("data-busy");
    });
  }

  function sendFile(file) {
    if (!file) return;
    analyse(file.arrayBuffer().then(function (data) {
      return api("POST", "/api/analyse", data, { "Content-Type": "application/octet-stream", "X-File-Name": encodeURIComponent(file.name || "file") });
    }));
  }

  // --- file and drop
  $("file").addEventListener("change", function (event) { sendFile(event.target.files[0]); event.target.value = ""; });
  var drop = $("drop");
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    sendFile(event.dataTransfer.files[0]);
  });

  // --- drawing
  var canvas = $("canvas"), context = canvas.getContext("2d"), drawing = false, last = null;
  function clearCanvas() { context.fillStyle = "#ffffff"; context.fillRect(0, 0, canvas.width, canvas.height); }
  clearCanvas();
  COLOURS.forEach(function (colour, i) {
    var button = el("button", { type: "button", className: "swatch" + (i === 0 ? " on" : ""), title: colour, "data-colour": colour });
    button.style.background = colour;
    button.addEventListener("click", function () {
      state.colour = colour;
      Array.prototype.forEach.call(document.querySelectorAll(".swatch"), function (b) { b.classList.toggle("on", b === button); });
    });
    $("swatches").appendChild(button);
  });
  function point(event) {
    var box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * canvas.width / box.width, y: (event.clientY - box.top) * canvas.height / box.height };
  }
  function stroke(to) {
    context.strokeStyle = state.colour;
    context.lineWidth = Number($("brush").value);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(last.x, last.y);
    context.lineTo(to.x + 0.01, to.y);
    context.stroke();
    last = to;
  }
  function sendCanvas() {
    analyse(new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); }).then(function (blob) {
      return api("POST", "/api/analyse", blob, { "Content-Type": "image/png", "X-File-Name": "drawing.png" });
    }));
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last);
  });
  canvas.addEventListener("pointermove", function (event) { if (drawing) stroke(point(event)); });
  ["pointerup", "pointercancel"].forEach(function (name) {
    canvas.addEventListener(name, function () { if (drawing) { drawing = false; sendCanvas(); } });
  });
  $("clear").addEventListener("click", function () { clearCanvas(); sendCanvas(); });
  $("copy").addEventListener("click", function () {
    var image = $("input-image");
    if (!image.src) return;
    context.imageSmoothingEnabled = false;
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    sendCanvas();
  });

  // --- gallery
  function showGallery(items) {
    var box = $("gallery");
    if (!items.length) { box.appendChild(el("p", { className: "muted", text: "No test images in this run." })); return; }
    items.forEach(function (item) {
      var label = item.true + " → " + item.predicted;
      var button = el("button", { type: "button", className: "thumb" + (item.correct ? "" : " wrong"), "data-id": item.id,
        title: item.name + ": true " + item.true + ", predicted " + item.predicted + " (" + item.probability.toFixed(2) + ")" },
        [el("img", { src: item.src, alt: label }), el("span", { text: label })]);
      button.addEventListener("click", function () {
        Array.prototype.forEach.call(document.querySelectorAll(".thumb"), function (b) { b.classList.toggle("chosen", b === button); });
        analyse(api("POST", "/api/gallery/" + item.id));
      });
      box.appendChild(button);
    });
  }

  // --- start
  api("GET", "/api/status").then(function (status) {
    state.status = status;
    $("run").textContent = "Model: " + status.model + " · classes " + status.labels.join(", ") + " · input " +
      status.image_size + "×" + status.image_size + (status.pooling ? " · CAVs at " + status.bottlenecks.join(", ") +
      " (" + status.pooling + " pooling)" : "");
    if (status.problem) { $("problem").textContent = status.problem; $("problem").hidden = false; }
    if (status.layers_note) { $("layers-note").textContent = status.layers_note; $("layers-note").hidden = false; }
    return api("GET", "/api/gallery").then(function (items) {
      showGallery(items);
      document.body.setAttribute("data-ready", "1");
    });
  }).catch(function (error) { showMessage(error.message); });
})();
