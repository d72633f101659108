// Opens sluiced's status page in headless Chromium (Debian's, driven by puppeteer-core) and checks
// what an operator would look at: the page loads with no console errors, shows every stream named
// on the command line, and its figures move while the test puts records (incoming rate above 0
// and changing, a freshness figure, the charts drawn). Optionally saves a screenshot.
//
//   node status_page_check.js <url> <chromium> <screenshot.png|-> <stream> [stream ...]
// Exit 0 when every check passed; otherwise prints what failed and exits 1.
"use strict";
const puppeteer = require("puppeteer-core");

const [url, chromium, screenshot, ...streams] = process.argv.slice(2);
if (!url || !chromium || !screenshot || streams.length === 0) {
  console.error("usage: status_page_check.js <url> <chromium> <screenshot.png|-> <stream> [stream ...]");
  process.exit(2);
}

function fail(msg) {
  console.error("status_page_check: " + msg);
  process.exit(1);
}

async function rows(page) {
  return page.$$eval("#streams tbody tr", trs => trs.map(tr => {
    const td = [...tr.querySelectorAll("td")].map(c => c.textContent.trim());
    return {name: tr.dataset.name, state: td[2], inRate: td[3], backlog: td[6], freshness: td[7], success: td[8]};
  }));
}

function number(text) {
  // "1.2k", "3.40M", "17"
  const m = /^([0-9.]+)([kMG]?)$/.exec(text || "");
  if (!m) return NaN;
  return parseFloat(m[1]) * ({"": 1, k: 1e3, M: 1e6, G: 1e9}[m[2]]);
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const timer = setTimeout(() => { console.error("status_page_check: timed out"); process.exit(1); }, 60000);
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1360, height: 900});
    const errors = [];
    page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", e => errors.push(String(e)));
    page.on("requestfailed", r => errors.push("request failed: " + r.url()));
    const requests = [];
    page.on("request", r => requests.push(r.url()));

    const response = await page.goto(url, {waitUntil: "load"});
    if (!response || response.status() !== 200) fail("GET " + url + " answered " + (response && response.status()));
    await page.waitForFunction(n => document.querySelectorAll("#streams tbody tr").length >= n, {timeout: 20000},
                               streams.length);

    // Every stream shows, and the rates move while records arrive.
    const seen = new Map();
    let moved = false;
    for (let i = 0; i < 20 && !moved; i++) {
      const now = await rows(page);
      for (const s of streams)
        if (!now.find(r => r.name === s)) fail("stream " + s + " is not on the page; rows: " + JSON.stringify(now));
      for (const r of now) {
        if (!streams.includes(r.name)) continue;
        const rate = number(r.inRate);
        const before = seen.get(r.name);
        if (before !== undefined && rate > 0 && rate !== before) moved = true;
        seen.set(r.name, rate);
      }
      await new Promise(res => setTimeout(res, 1000));
    }
    if (!moved) fail("no stream's incoming rate moved in 20 s: " + JSON.stringify([...seen]));
    const final = await rows(page);
    for (const r of final) {
      if (!streams.includes(r.name)) continue;
      if (!/^(0|<1 s|\d+ s|\d+ min|[\d.]+ h)$/.test(r.freshness)) fail("stream " + r.name + " freshness reads '" + r.freshness + "'");
      if (!/%$/.test(r.success)) fail("stream " + r.name + " success reads '" + r.success + "'");
    }
    // The cards and charts are filled in.
    const cardIn = await page.$eval("#c-in", e => e.textContent);
    if (!(number(cardIn) >= 0)) fail("the incoming records/s card reads '" + cardIn + "'");
    const drawn = await page.$eval("#ch-rate", c => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
      return painted;
    });
    if (drawn === 0) fail("the records/s chart is empty");
    // Sorting and filtering: filter to one stream, then clear.
    await page.type("#filter", streams[0]);
    const filtered = await rows(page);
    if (filtered.length === 0 || filtered.some(r => !r.name.includes(streams[0])))
      fail("filtering by '" + streams[0] + "' shows " + JSON.stringify(filtered.map(r => r.name)));
    await page.$eval("#filter", e => { e.value = ""; e.dispatchEvent(new Event("input")); });
    await page.click('#streams th[data-k="name"]');
    const sorted = (await rows(page)).map(r => r.name);
    const expect = [...sorted].sort((a, b) => a.localeCompare(b));
    if (JSON.stringify(sorted) !== JSON.stringify(expect)) fail("sorting by name gives " + JSON.stringify(sorted));
    // Select the busiest stream so its chart shows in the screenshot.
    await page.click('#streams th[data-k="incoming_records_per_s"]');
    await page.click("#streams tbody tr");
    await new Promise(res => setTimeout(res, 2500));

    const origin = new URL(url).origin;
    const foreign = requests.filter(r => !r.startsWith(origin) && !r.startsWith("data:"));
    if (foreign.length) fail("the page fetched from elsewhere: " + foreign.join(", "));
    if (errors.length) fail("console errors: " + errors.join(" | "));
    if (screenshot !== "-") await page.screenshot({path: screenshot, fullPage: true});
    console.log(JSON.stringify({ok: true, streams: final.length, moved, screenshot}));
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
})().catch(e => fail(e.stack || String(e)));
