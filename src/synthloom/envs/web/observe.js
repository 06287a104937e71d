(limit) => {
  const INTERACTIVE = 'a[href], button, input:not([type=hidden]), textarea, select';
  const BLOCK = new Set(['address', 'article', 'aside', 'blockquote', 'br', 'dd', 'div', 'dl', 'dt', 'fieldset', 'footer',
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'section', 'table', 'tr', 'ul']);
  const SKIP = new Set(['script', 'style', 'noscript', 'template', 'head', 'svg']);
  document.querySelectorAll('[data-synthloom-id]').forEach((e) => e.removeAttribute('data-synthloom-id'));
  const lines = [];
  const elements = [];
  let line = [];
  const flush = () => { const t = line.join(' ').replace(/\s+/g, ' ').trim(); if (t) lines.push(t); line = []; };
  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const labelOf = (el) => {
    if (el.getAttribute('aria-label')) return clean(el.getAttribute('aria-label'));
    if (el.labels && el.labels.length) return clean(el.labels[0].textContent);
    return clean(el.getAttribute('placeholder') || el.getAttribute('name') || '');
  };
  const describe = (el, id) => {
    const tag = el.tagName.toLowerCase();
    if (tag === 'a') return { id, role: 'link', name: clean(el.textContent) };
    if (tag === 'button' || (tag === 'input' && ['submit', 'button'].includes(el.type))) {
      return { id, role: 'button', name: clean(el.textContent || el.value) };
    }
    if (tag === 'select') {
      const options = Array.from(el.options).map((o) => clean(o.textContent));
      const chosen = el.selectedIndex >= 0 ? clean(el.options[el.selectedIndex].textContent) : '';
      return { id, role: 'select', name: labelOf(el), value: chosen, options };
    }
    const kind = tag === 'textarea' ? 'textarea' : (el.type || 'text');
    return { id, role: kind === 'textarea' ? 'textarea' : 'input', kind, name: labelOf(el), value: el.value };
  };
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { line.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const tag = node.tagName.toLowerCase();
    if (SKIP.has(tag) || tag === 'label') return;
    const style = getComputedStyle(node);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    if (node.matches(INTERACTIVE)) {
      const item = describe(node, elements.length + 1);
      node.setAttribute('data-synthloom-id', String(item.id));
      elements.push(item);
      let text = `[${item.id}] ${item.role}`;
      if (item.kind && item.kind !== 'text' && item.role === 'input') text += ` (${item.kind})`;
      text += ` "${item.name}"`;
      if (item.role === 'select') text += ` options: ${item.options.map((o) => `"${o}"`).join(', ')} selected "${item.value}"`;
      else if (item.value !== undefined) text += ` value "${item.value}"`;
      line.push(text);
      return;
    }
    const block = BLOCK.has(tag);
    if (block) flush();
    if (/^h[1-6]$/.test(tag)) line.push('#'.repeat(Number(tag[1])));
    if (tag === 'li') line.push('-');
    for (const child of node.childNodes) walk(child);
    if (tag === 'td' || tag === 'th') line.push('|');
    if (block) flush();
  };
  walk(document.body || document.documentElement);
  flush();
  let text = lines.join('\n');
  if (text.length > limit) text = text.slice(0, limit) + `\n... [${text.length - limit} more characters cut]`;
  return { title: document.title, text, elements };
}
