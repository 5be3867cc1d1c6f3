// Posts (or updates) the plan-diff comment of one environment on a pull request.
//
// The artifact it reads was produced by a job that ran the pull request's code (a fork's, in
// pr-plan-comment.yml), so it is untrusted data: only the expected files, UTF-8 text, one
// marker line naming this environment and nothing that could pass for another comment, no
// @-mentions or cross-references that would notify people, and at most COMMENT_LIMIT
// characters (GitHub refuses comments over 65536). Whatever it says, it is posted as the body
// of one comment, on a pull request found by the caller from the event, never from the artifact.
'use strict';

const fs = require('fs');
const path = require('path');

const COMMENT_LIMIT = 60000;
const ARTIFACT_FILES = new Set(['diff.md', 'plan-base.json', 'plan-head.json']);
const ENV_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const MARKER_PREFIX = '<!-- recsys-dr-plan-diff:';

function marker(env) {
  if (!ENV_NAME.test(env)) throw new Error(`environment name ${JSON.stringify(env)} is not [a-z][a-z0-9-]*`);
  return `${MARKER_PREFIX}${env} -->`;
}

// Returns the comment body to post, or throws with the reason the artifact is refused.
function validateArtifact(dir, env) {
  const expected = marker(env);
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !ARTIFACT_FILES.has(entry.name)) {
      throw new Error(`unexpected artifact entry ${JSON.stringify(entry.name)}; allowed: ${[...ARTIFACT_FILES].join(', ')}`);
    }
  }
  const file = path.join(dir, 'diff.md');
  if (!fs.existsSync(file)) throw new Error('artifact has no diff.md');
  const bytes = fs.readFileSync(file);
  if (bytes.length > 4 * COMMENT_LIMIT) throw new Error(`diff.md is ${bytes.length} bytes; refusing more than ${4 * COMMENT_LIMIT}`);
  let body;
  try {
    body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new Error('diff.md is not UTF-8 text');
  }
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(body)) throw new Error('diff.md contains control characters');
  if (!body.startsWith(expected + '\n')) throw new Error(`diff.md does not start with the marker line ${expected}`);
  if (body.slice(expected.length).includes(MARKER_PREFIX)) throw new Error('diff.md carries a second comment marker');
  // "@user", "@org/team", "#12" and "owner/repo#12" would notify or cross-link; a zero-width joiner keeps them
  // readable but inert (HTML character references like "&#60;" are left alone).
  body = body.replace(/@(?=[A-Za-z0-9])/g, '@\u200d').replace(/(?<!&)#(?=\d)/g, '#\u200d');
  if (body.length > COMMENT_LIMIT) body = body.slice(0, COMMENT_LIMIT) + '\n\n_(truncated)_\n';
  return body;
}

// Creates or updates this environment's comment (found by its marker, written by a bot).
async function postComment({ github, owner, repo, issueNumber, env, body }) {
  const expected = marker(env);
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number: issueNumber });
  const mine = comments.find(c => c.user && c.user.type === 'Bot' && typeof c.body === 'string' && c.body.startsWith(expected));
  if (mine) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  }
}

module.exports = { COMMENT_LIMIT, marker, validateArtifact, postComment };
