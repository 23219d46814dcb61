/**
 * Changes the build makes to a dependency's source as it bundles it (toolbox/bundle.ts), each
 * checked: a dependency whose source moved on fails the build rather than losing the change.
 */

/**
 * docker-modem formats every request's options for its debug log before it asks whether that
 * log is on: util.inspect with showHidden and no depth limit, of the request's body (a
 * container's whole spec) and of its HTTP agent (every socket the agent holds, with their
 * streams and handles). With testin's agent (launcher/dockerode-client.ts) that was ~15 ms of a
 * run's first requests in a CPU profile here. The call is made only when the log is on
 * (DEBUG=modem), as the debug package's own `enabled` says.
 */
const MODEM_DEBUG_CALL = "debug('Sending: %s', util.inspect(options, {";

export function guardModemDebug(source: string): string {
  const at = source.indexOf(MODEM_DEBUG_CALL);
  if (at < 0 || source.indexOf(MODEM_DEBUG_CALL, at + 1) >= 0) {
    throw new Error(`docker-modem's lib/modem.js no longer has one ${MODEM_DEBUG_CALL}...: see toolbox/bundle-patches.ts`);
  }
  return `${source.slice(0, at)}debug.enabled && ${source.slice(at)}`;
}
