// A made-up download history, as GET /api/v1/history sends it (docs/peer-ui.md),
// for the test that renders 1,000 entries: newest first, of every state, with
// several sources and, now and then, a hostile file name.
import crypto from 'node:crypto';

export function generateHistory(count, { hostileName = '<b>x</b>', now = Math.floor(Date.now() / 1000) } = {}) {
  const states = ['done', 'done', 'done', 'failed', 'cancelled'];
  const users = ['alice', 'bob', 'dave', 'erin'];
  const entries = [];
  for (let i = 0; i < count; i++) {
    const state = states[i % states.length];
    const size = 1024 * (1 + ((i * 7919) % 500000));
    const seconds = 1 + (i % 97);
    const finished = now - i * 60;
    const sources = users.slice(0, 1 + (i % 3)).map((user, k) => ({
      peer_id: crypto.createHash('md5').update(user).digest('hex'),
      user,
      address: `127.0.0.1:${7443 + k}`,
      bytes: Math.floor(size / (1 + (i % 3))),
    }));
    const name = i % 50 === 7 ? `${i}-${hostileName}` : `file-${String(i).padStart(4, '0')}.bin`;
    entries.push({
      id: crypto.randomBytes(8).toString('hex'),
      sha256: crypto.createHash('sha256').update(String(i)).digest('hex'),
      name,
      size,
      state,
      error: state === 'failed' ? 'every peer that has it was lost: bob: stalled for 30 s' : '',
      started_at: finished - seconds,
      finished_at: finished,
      seconds,
      rate: state === 'done' ? size / seconds : 0,
      path: state === 'done' ? `/home/carol/Downloads/${name}` : '',
      sources,
    });
  }
  return entries;
}
