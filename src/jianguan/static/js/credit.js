/* Credit distribution charts (data from the json_script element "credit-chart-data"). */
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };  // from /jsi18n/ (Django's JS catalogue)
  var COLORS = { A: "#2e7d32", B: "#1565c0", C: "#ef8f00", D: "#c62828" };

  function stacked(el, rows, classes) {
    var chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { data: classes },
      grid: { left: 60, right: 20, bottom: 80 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { rotate: 30 } },
      yAxis: { type: "value" },
      series: classes.map(function (c) {
        return { name: c, type: "bar", stack: "total", itemStyle: { color: COLORS[c] },
                 data: rows.map(function (r) { return r[c]; }) };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function sankey(el, transitions, classes) {
    var nodes = [];
    var seen = {};
    function node(name) { if (!seen[name]) { seen[name] = true; nodes.push({ name: name }); } }
    var links = transitions.map(function (t) {
      var src = gettext("上月") + " " + (t.from === "-" ? gettext("未分类") : t.from);
      var dst = gettext("本月") + " " + t.to;
      node(src); node(dst);
      return { source: src, target: dst, value: t.n };
    });
    var chart = window.echarts.init(el);
    chart.setOption({ tooltip: { trigger: "item" },
                      series: [{ type: "sankey", data: nodes, links: links, emphasis: { focus: "adjacency" } }] });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function init() {
    var holder = document.getElementById("credit-chart-data");
    if (!holder || !window.echarts) { return; }
    var data = JSON.parse(holder.textContent);
    var byDivision = document.getElementById("credit-by-division");
    var bySection = document.getElementById("credit-by-section");
    var moves = document.getElementById("credit-transitions");
    if (byDivision) { stacked(byDivision, data.divisions, data.classes); }
    if (bySection) { stacked(bySection, data.sections, data.classes); }
    if (moves && data.transitions.length) { sankey(moves, data.transitions, data.classes); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
