const focusable = Array.from(document.querySelectorAll('input, button, select, textarea, a[href], [tabindex]'))
  .filter((e) => e.tabIndex >= 0 && !e.disabled && e.offsetParent !== null);
const unlabelled = focusable.filter((e) => {
  if (e.tagName === 'A') return !e.textContent.trim();
  if (e.tagName === 'BUTTON') return !(e.textContent.trim() || e.getAttribute('aria-label'));
  return !((e.labels && e.labels.length && e.labels[0].textContent.trim()) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'));
}).map((e) => e.id || e.outerHTML.slice(0, 80));
function rgb(s) { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
function lum(c) { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
function bg(e) { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; }
const main = Array.from(document.querySelectorAll('button, input:not([type=file]), label, h1, h2, p, legend, th, td'))
  .filter((e) => e.offsetParent !== null && e.textContent.trim() !== '' || e.tagName === 'INPUT' && e.offsetParent !== null);
const contrast = main.map((e) => {
  const fg = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
  return [e.id || e.tagName + ':' + e.textContent.trim().slice(0, 30), (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05)];
});
return {focusable: focusable.map((e) => e.id || e.tagName), unlabelled, contrast,
  overflow: document.documentElement.scrollWidth - window.innerWidth};
