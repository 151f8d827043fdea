// Complaints dashboard charts (ECharts); data comes from json_script elements, no inline script (CSP).
(() => {
  // gettext comes from /jsi18n/ (Django's JavaScript catalogue); the Chinese text is the fallback.
  const gettext = window.gettext || ((text) => text);
  const chart = (id, option) => {
    const node = document.getElementById(id);
    if (!node || typeof echarts === "undefined") return;
    const c = echarts.getInstanceByDom(node) || echarts.init(node);
    c.setOption(option);
    window.addEventListener("resize", () => c.resize());
  };
  const read = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const words = () => {
    const data = (read("complaints-words-data") || []).slice(0, 25).reverse();
    chart("chart-words", {
      title: { text: gettext("热词") }, tooltip: {}, grid: { left: 100 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: data.map((w) => w[0]) },
      series: [{ type: "bar", data: data.map((w) => w[1]) }],
    });
  };
  document.addEventListener("DOMContentLoaded", () => {
    const data = read("complaints-chart-data");
    if (!data) return;
    const month = data.month || [];
    const kinds = [gettext("投诉"), gettext("举报"), gettext("咨询")];
    chart("chart-month", {
      title: { text: gettext("按月件数") }, tooltip: { trigger: "axis" }, legend: { top: 24, data: kinds },
      xAxis: { type: "category", data: month.map((r) => r[0]) }, yAxis: { type: "value" },
      series: kinds.map((name, i) => ({ name, type: "line", data: month.map((r) => r[i + 1]) })),
    });
    const pie = (id, title, rows) => chart(id, {
      title: { text: title }, tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["30%", "65%"], data: (rows || []).map((r) => ({ name: r[0], value: r[1] })) }],
    });
    pie("chart-channel", gettext("来源渠道"), data.channel);
    pie("chart-category", gettext("分类"), data.category);
  });
  // The text-analysis panel arrives later through htmx.
  document.addEventListener("htmx:afterSwap", (ev) => {
    if (ev.target && ev.target.id === "text-analysis") words();
  });
})();
