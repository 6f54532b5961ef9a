// The code of one generation request, as curl, JavaScript (the `openai` package) and Python (`openai`,
// our fields through `extra_body`). Pure functions of (origin, body): the key is never an input, every
// snippet reads it from $SNOOPI_API_KEY.

/** Fields of the body that OpenAI's Python client takes as keyword arguments; the rest go in `extra_body`. */
const OPENAI_PYTHON_PARAMETERS = ['model', 'prompt', 'n', 'size', 'response_format', 'quality', 'style', 'user']

/** `text` as one shell word in single quotes (a `'` inside becomes `'\''`). */
export function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/** The request as a curl command that prints the API's raw JSON answer. */
export function curlSnippet(origin, body) {
  return [
    `curl -s ${shellQuote(`${origin}/v1/images/generations`)} \\`,
    '  -H "Authorization: Bearer $SNOOPI_API_KEY" \\',
    "  -H 'Content-Type: application/json' \\",
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join('\n')
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** A JSON value as a JavaScript literal (keys unquoted where they can be), indented by `depth` levels. */
function jsLiteral(value, depth) {
  const pad = '  '.repeat(depth + 1)
  const end = '  '.repeat(depth)
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    return `[\n${value.map((v) => pad + jsLiteral(v, depth + 1)).join(',\n')},\n${end}]`
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return '{}'
    return `{\n${entries.map(([k, v]) => `${pad}${IDENTIFIER.test(k) ? k : JSON.stringify(k)}: ${jsLiteral(v, depth + 1)}`).join(',\n')},\n${end}}`
  }
  return JSON.stringify(value)
}

/** The request through the official `openai` package (ES module, Node 18+). */
export function javascriptSnippet(origin, body) {
  return [
    '// npm install openai',
    "import OpenAI from 'openai'",
    '',
    `const client = new OpenAI({ apiKey: process.env.SNOOPI_API_KEY, baseURL: ${JSON.stringify(`${origin}/v1`)} })`,
    '',
    `const response = await client.images.generate(${jsLiteral(body, 0)})`,
    'for (const image of response.data ?? []) console.log(image.url)',
  ].join('\n')
}

/** A JSON value as a Python literal (JSON's string escapes are Python's too). */
function pythonLiteral(value, depth) {
  const pad = '    '.repeat(depth + 1)
  const end = '    '.repeat(depth)
  if (value === null) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    return `[\n${value.map((v) => pad + pythonLiteral(v, depth + 1)).join(',\n')},\n${end}]`
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return '{}'
    return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(v, depth + 1)}`).join(',\n')},\n${end}}`
  }
  return JSON.stringify(value)
}

/** The request through the official `openai` Python package; our fields travel in `extra_body`. */
export function pythonSnippet(origin, body) {
  const lines = [
    '# pip install openai',
    'import os',
    '',
    'from openai import OpenAI',
    '',
    `client = OpenAI(api_key=os.environ["SNOOPI_API_KEY"], base_url=${JSON.stringify(`${origin}/v1`)})`,
    '',
    'response = client.images.generate(',
  ]
  const extra = {}
  for (const [name, value] of Object.entries(body)) {
    if (OPENAI_PYTHON_PARAMETERS.includes(name)) lines.push(`    ${name}=${pythonLiteral(value, 1)},`)
    else extra[name] = value
  }
  if (Object.keys(extra).length > 0) lines.push(`    extra_body=${pythonLiteral(extra, 1)},`)
  lines.push(')', 'for image in response.data:', '    print(image.url)')
  return lines.join('\n')
}

export const SNIPPETS = { curl: curlSnippet, javascript: javascriptSnippet, python: pythonSnippet }
