/* Draws the symbol page charts from the JSON data block; no inline script needed (strict CSP). */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof window.Chart === "undefined") { return; }
  var data;
  try { data = JSON.parse(block.textContent); } catch (e) { return; }
  // colour-blind friendly palette (Okabe-Ito) plus dashes so series differ by more than colour
  var palette = { actual: "#000000", ensemble: "#0072B2", transformer: "#D55E00", lstm: "#009E73",
                  persistence: "#7f7f7f", drift: "#CC79A7", served: "#E69F00" };
  var dashes = { actual: [], ensemble: [], transformer: [6, 3], lstm: [2, 2], persistence: [10, 4], drift: [4, 4, 1, 4] };
  function colour(k, i) { return palette[k] || ["#E69F00", "#56B4E9", "#F0E442"][i % 3]; }
  var names = { lstm: "LSTM" };
  function cap(s) { return names[s] || s.charAt(0).toUpperCase() + s.slice(1); }
  var bandData = null;
  var bandBlock = document.getElementById("band-data");
  if (bandBlock) { try { bandData = JSON.parse(bandBlock.textContent); } catch (e) { bandData = null; } }
  var bandFill = { "80": "rgba(0, 114, 178, 0.25)", "90": "rgba(0, 114, 178, 0.12)" };
  // Two datasets drawn as one shaded area (Chart.js fills the second down to the first).
  function bandSets(label, low, high, fill) {
    var edge = { borderColor: "rgba(0, 114, 178, 0.5)", borderWidth: 1, pointRadius: 0, spanGaps: true };
    return [Object.assign({ label: label + " (low)", data: low, fill: false, bandEdge: true }, edge),
            Object.assign({ label: label, data: high, fill: "-1", backgroundColor: fill }, edge)];
  }
  var legend = { labels: { filter: function (item, chart) {
    return !chart.datasets[item.datasetIndex].bandEdge; } } };
  window.Chart.defaults.animation = false;
  window.Chart.defaults.font.size = 13;
  window.Chart.defaults.color = "#1a1a1a";

  var priceCanvas = document.getElementById("price-chart");
  if (priceCanvas && data.history && data.history.dates.length) {
    var labels = data.history.dates.slice();
    var close = data.history.close.slice();
    var datasets = [{ label: data.symbol + " close", data: close, borderColor: palette.actual,
                      backgroundColor: palette.actual, borderWidth: 1.5, pointRadius: 0 }];
    if (data.forecast) {
      labels.push("next day");
      var fc = new Array(close.length - 1).fill(null);
      fc.push(close[close.length - 1]);
      fc.push(data.forecast.ensemble);
      datasets.push({ label: "Served forecast", data: fc, borderColor: palette.ensemble,
                      backgroundColor: palette.ensemble, borderDash: [6, 3], borderWidth: 2, pointRadius: 3 });
      if (bandData && bandData.quantiles) {
        // A fan from the last close to the next day's 90 % and 80 % bands.
        ["90", "80"].forEach(function (level) {
          var lo = level === "80" ? "0.1" : "0.05", hi = level === "80" ? "0.9" : "0.95";
          var low = new Array(close.length - 1).fill(null), high = low.slice();
          low.push(close[close.length - 1]); high.push(close[close.length - 1]);
          low.push(bandData.quantiles[lo]); high.push(bandData.quantiles[hi]);
          datasets = datasets.concat(bandSets(level + " % band (" + bandData.source + ")", low, high, bandFill[level]));
        });
      }
    }
    new window.Chart(priceCanvas, {
      type: "line", data: { labels: labels, datasets: datasets },
      options: { responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 plugins: { legend: legend },
                 scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { title: { display: true, text: "Close" } } } }
    });
    priceCanvas.setAttribute("data-drawn", "true");
  }

  var btCanvas = document.getElementById("backtest-chart");
  if (btCanvas && data.backtest && data.backtest.dates.length) {
    var bt = data.backtest;
    var sets = [{ label: "Actual", data: bt.actual, borderColor: palette.actual, backgroundColor: palette.actual,
                  borderWidth: 2, pointRadius: 0 }];
    ["90", "80"].forEach(function (level) {
      var low = bt.series["band_lo" + level], high = bt.series["band_hi" + level];
      if (low && high) { sets = sets.concat(bandSets("Served " + level + " % band", low, high, bandFill[level])); }
    });
    Object.keys(bt.series).forEach(function (k, i) {
      if (k.indexOf("band_") === 0) { return; }
      sets.push({ label: cap(k) + " prediction", data: bt.series[k], borderColor: colour(k, i),
                  backgroundColor: colour(k, i), borderDash: dashes[k] || [3, 3], borderWidth: 1.5,
                  pointRadius: 0, hidden: k !== "served" && k !== "ensemble" });
    });
    new window.Chart(btCanvas, {
      type: "line", data: { labels: bt.dates, datasets: sets },
      options: { responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 plugins: { legend: legend },
                 scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { title: { display: true, text: "Close" } } } }
    });
    btCanvas.setAttribute("data-drawn", "true");
  }
})();
