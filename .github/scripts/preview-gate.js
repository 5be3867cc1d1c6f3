// Decides which `pulumi preview` environments may run for a pull request (preview.yml).
//
// The preview job holds the deploy credentials (AWS role, Pulumi token and passphrase) and runs
// the pull request's code, so it runs only in a GitHub environment whose protection rules make a
// human approve every run first: GitHub sends a job that references an environment to a runner,
// and exposes the environment's secrets, only after its protection rules pass
// (docs.github.com/en/actions/concepts/workflows-and-actions/deployment-environments).
// GitHub creates a missing environment, without rules, when a job references it; so this gate
// runs first, with no secrets and no pull-request code, reads each environment's rules
// (GET /repos/{owner}/{repo}/environments/{name}, `actions: read`) and lets through only those
// that exist and require a reviewer. An environment that does not exist is skipped (previews are
// off); one that exists without a required reviewer fails the gate.
'use strict';

const ENV_NAME = /^[a-z][a-z0-9-]{0,39}$/;

function environmentName(stack) {
  if (!ENV_NAME.test(stack)) throw new Error(`stack name ${JSON.stringify(stack)} is not [a-z][a-z0-9-]*`);
  return `preview-${stack}`;
}

// Problems that forbid running the preview in this environment (empty: it may run).
// `environment` is the REST API's environment object.
function environmentProblems(environment) {
  const rules = Array.isArray(environment.protection_rules) ? environment.protection_rules : [];
  const reviewers = rules
    .filter(rule => rule && rule.type === 'required_reviewers')
    .flatMap(rule => (Array.isArray(rule.reviewers) ? rule.reviewers : []));
  if (reviewers.length === 0) {
    return [`environment ${environment.name} has no required reviewers: a pull request's code would run with its secrets unapproved`];
  }
  return [];
}

// Advisory notes that do not block (self-review lets a reviewer approve a run they started).
function environmentNotes(environment) {
  const rules = Array.isArray(environment.protection_rules) ? environment.protection_rules : [];
  const rule = rules.find(r => r && r.type === 'required_reviewers');
  if (rule && rule.prevent_self_review !== true) {
    return [`environment ${environment.name} lets a reviewer approve their own run; consider "Prevent self-review"`];
  }
  return [];
}

// Stacks whose preview may run; throws when an existing environment is unprotected.
async function approvedStacks({ github, core, owner, repo, stacks }) {
  const allowed = [];
  const problems = [];
  for (const stack of stacks) {
    const name = environmentName(stack);
    let environment;
    try {
      ({ data: environment } = await github.rest.repos.getEnvironment({ owner, repo, environment_name: name }));
    } catch (error) {
      if (error.status === 404) {
        core.notice(`no environment ${name}: skipping the ${stack} preview (the offline plan still runs)`);
        continue;
      }
      throw error;
    }
    const found = environmentProblems(environment);
    environmentNotes(environment).forEach(note => core.warning(note));
    if (found.length) problems.push(...found);
    else allowed.push(stack);
  }
  if (problems.length) throw new Error(problems.join('; '));
  return allowed;
}

module.exports = { environmentName, environmentProblems, environmentNotes, approvedStacks };
