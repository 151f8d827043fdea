// Random inspections: the "does targeting work" chart (data from json_script, no inline script: CSP).
document.addEventListener("DOMContentLoaded", () => {
  const gettext = window.gettext || ((text) => text);  // from /jsi18n/ (Django's JavaScript catalogue)
  const el = document.getElementById("targeting-chart");
  const src = document.getElementById("targeting-data");
  if (!el || !src || typeof echarts === "undefined") return;
  const data = JSON.parse(src.textContent);
  const chart = echarts.init(el);
  const series = [{ name: gettext("发现问题比例（%）"), type: "bar", data: data.shares, label: { show: true, position: "top", formatter: "{c}%" } }];
  if (data.baseline !== null) {
    series[0].markLine = { symbol: "none", data: [{ yAxis: data.baseline, name: gettext("A类随机对照基线") }], label: { formatter: gettext("基线") + " {c}%" } };
  }
  chart.setOption({
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.labels },
    yAxis: { type: "value", name: "%", min: 0 },
    series,
  });
  window.addEventListener("resize", () => chart.resize());
});
