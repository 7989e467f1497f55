const done = arguments[arguments.length - 1];
const c = document.createElement('canvas'); c.width = 160; c.height = 120;
const g = c.getContext('2d'); let i = 0;
const iv = setInterval(() => { g.fillStyle = 'hsl(' + (i * 15 % 360) + ',80%,50%)'; g.fillRect(0, 0, 160, 120); i++; }, 40);
const type = ['video/mp4;codecs=avc1.42E01E', 'video/mp4'].find((t) => MediaRecorder.isTypeSupported(t));
const rec = new MediaRecorder(c.captureStream(25), {mimeType: type});
const chunks = [];
rec.ondataavailable = (e) => chunks.push(e.data);
rec.onstop = async () => {
  clearInterval(iv);
  const buf = new Uint8Array(await new Blob(chunks).arrayBuffer()); let s = '';
  for (const x of buf) s += String.fromCharCode(x);
  const png = c.toDataURL('image/png').split(',')[1];
  done([btoa(s), png]);
};
rec.start(); setTimeout(() => rec.stop(), 1200);
