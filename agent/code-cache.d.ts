// Types of agent/code-cache.js, a plain-JavaScript file (it runs before any TypeScript can).
export function builtin (name: string): Promise<any>
export const SCRIPT_WRAPPER_HEAD: string
export const BUILTINS_LINE: string
export function runWithCodeCache (file: string, setFlags?: () => void): void
