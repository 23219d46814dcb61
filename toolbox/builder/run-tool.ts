import { spawn } from 'node:child_process';

const TAIL_LINES = 30;

export interface ToolResult {
  code: number;
  /** the last lines it printed (stdout and stderr), for an error message */
  tail: string[];
}

/**
 * Runs a tool of the builder's Debian, passing each line it prints to `onLine`
 * and to our stderr (the launcher keeps that for errors); never throws for a
 * failing tool: the caller says what failed.
 */
export function runTool(file: string, args: readonly string[], onLine: (line: string) => void = () => undefined, env: NodeJS.ProcessEnv = process.env): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const take = (): ((chunk: Buffer) => void) => {
      let pending = '';
      return (chunk) => {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          process.stderr.write(`${line}\n`);
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          onLine(line);
        }
      };
    };
    child.stdout.on('data', take());
    child.stderr.on('data', take());
    child.on('error', (error) => resolve({ code: 127, tail: [...tail, `${file}: ${error.message}`] }));
    child.on('close', (code, signal) => resolve({ code: code ?? 128, tail: signal ? [...tail, `${file} was killed by ${signal}`] : tail }));
  });
}
