// Jianguan back office: small behaviours, no inline script (CSP forbids it).
document.addEventListener("DOMContentLoaded", () => {
  // Buttons with data-confirm ask before submitting.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (ev) => {
      if (!window.confirm(el.dataset.confirm)) ev.preventDefault();
    });
  });
  // Forms disable their submit button once sent, so a double click cannot submit twice.
  document.querySelectorAll("form[data-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
    });
  });
  // Tabs: links with data-tab show the matching panel.
  document.querySelectorAll("[data-tabs]").forEach((tabs) => {
    const links = tabs.querySelectorAll("[data-tab]");
    const show = (name) => {
      links.forEach((l) => l.classList.toggle("active", l.dataset.tab === name));
      document.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== name; });
    };
    links.forEach((l) => l.addEventListener("click", (ev) => { ev.preventDefault(); show(l.dataset.tab); history.replaceState(null, "", "#" + l.dataset.tab); }));
    const initial = location.hash.slice(1);
    if (initial && tabs.querySelector(`[data-tab="${initial}"]`)) show(initial);
  });
});
