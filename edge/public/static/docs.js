// The API reference, rendered in the page from /openapi.json: every operation with its parameters,
// body, responses (with their headers) and schemas. No dependency, no innerHTML (Trusted Types).

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options']
const MAX_DEPTH = 4

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith('aria-') || name.startsWith('data-')) node.setAttribute(name, String(value))
    else node[name] = value
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child)
  return node
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

/** Paragraphs of a description (blank lines part them); `code` spans kept as code. */
function prose(text, className = 'description') {
  if (!text) return ''
  return h(
    'div',
    { className },
    ...String(text)
      .split(/\n{2,}/)
      .map((paragraph) => h('p', {}, ...String(paragraph).split(/(`[^`]+`)/).map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? h('code', {}, part.slice(1, -1)) : part)))),
  )
}

function refName(ref, kind) {
  const prefix = `#/components/${kind}/`
  return typeof ref === 'string' && ref.startsWith(prefix) ? decodeURIComponent(ref.slice(prefix.length)) : null
}

function renderer(doc) {
  const components = doc.components ?? {}
  const resolve = (object, kind) => {
    const name = refName(object?.$ref, kind)
    return name === null ? object : (components[kind]?.[name] ?? {})
  }

  /** One line saying what a schema admits: type, enum, range, pattern, default. */
  function typeLabel(schema) {
    const name = refName(schema?.$ref, 'schemas')
    if (name !== null) return h('a', { href: `#schema-${slug(name)}` }, name)
    if (!schema || typeof schema !== 'object') return 'any'
    const variants = schema.anyOf ?? schema.oneOf
    if (Array.isArray(variants)) {
      const span = h('span', {})
      variants.forEach((variant, i) => span.append(...(i ? [' | '] : []), typeLabel(variant)))
      return span
    }
    let type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? (schema.properties ? 'object' : 'any'))
    if (type === 'array') {
      const span = h('span', {}, 'array of ', typeLabel(schema.items ?? {}))
      return withFacts(span, schema)
    }
    if (schema.format) type += ` (${schema.format})`
    return withFacts(h('span', {}, type), schema)
  }

  function withFacts(span, schema) {
    const facts = []
    if (Array.isArray(schema.enum)) facts.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`)
    if (schema.const !== undefined) facts.push(`always ${JSON.stringify(schema.const)}`)
    if (schema.minimum !== undefined || schema.maximum !== undefined) facts.push(`${schema.minimum ?? '…'} to ${schema.maximum ?? '…'}`)
    if (schema.exclusiveMinimum !== undefined) facts.push(`> ${schema.exclusiveMinimum}`)
    if (schema.minLength !== undefined || schema.maxLength !== undefined) facts.push(`${schema.minLength ?? 0} to ${schema.maxLength ?? '…'} characters`)
    if (schema.minItems !== undefined || schema.maxItems !== undefined) facts.push(`${schema.minItems ?? 0} to ${schema.maxItems ?? '…'} items`)
    if (schema.pattern) facts.push(`matches ${schema.pattern}`)
    if (schema.default !== undefined) facts.push(`default ${JSON.stringify(schema.default)}`)
    if (facts.length > 0) span.append(`; ${facts.join('; ')}`)
    return span
  }

  /** A schema: its type line, then (objects, arrays of objects) its properties, nested up to MAX_DEPTH. */
  function schemaView(schema, depth = 0, expandRef = true) {
    const box = h('div', { className: 'schema' })
    const name = refName(schema?.$ref, 'schemas')
    const target = name !== null && expandRef ? resolve(schema, 'schemas') : schema
    box.append(h('div', { className: 'type' }, typeLabel(schema)))
    if (target !== schema && target.description) box.append(prose(target.description))
    const object = target?.type === 'array' ? resolve(target.items, 'schemas') : target
    const properties = object?.properties
    if (properties && depth < MAX_DEPTH && (name === null || expandRef)) {
      const required = new Set(object.required ?? [])
      for (const [prop, sub] of Object.entries(properties)) {
        const line = h('div', { className: 'prop' }, h('span', { className: 'prop-name' }, prop), ' ', required.has(prop) ? h('span', { className: 'required' }, 'required') : null)
        line.append(' ', h('span', { className: 'type' }, typeLabel(sub)))
        if (sub?.description) line.append(prose(sub.description))
        const inner = sub?.type === 'array' ? sub.items : sub
        const innerTarget = resolve(inner, 'schemas')
        const nested = innerTarget?.properties && depth + 1 < MAX_DEPTH && (refName(inner?.$ref, 'schemas') === null || depth === 0)
        if (nested) line.append(schemaView(inner, depth + 1, true))
        box.append(line)
      }
    }
    return box
  }

  function content(contentObject, linkOnly = false) {
    const items = []
    for (const [type, media] of Object.entries(contentObject ?? {})) {
      const schema = media.schema ? (linkOnly && media.schema.$ref ? h('div', { className: 'schema' }, h('span', { className: 'type' }, typeLabel(media.schema))) : schemaView(media.schema)) : null
      items.push(h('div', {}, h('code', {}, type), schema))
    }
    return items
  }

  /** Header components by name, and the header names each one was used under. */
  const headerUses = new Map()

  /** A response's headers: shared ones as links to their one description below, inline ones in a table. */
  function headersView(headers) {
    const links = []
    const rows = []
    for (const [name, header] of Object.entries(headers ?? {})) {
      const component = refName(header?.$ref, 'headers')
      if (component !== null) {
        if (!headerUses.has(component)) headerUses.set(component, new Set())
        headerUses.get(component).add(name)
        links.push(h('a', { href: `#header-${slug(component)}` }, h('code', {}, name)))
      } else {
        rows.push(h('tr', {}, h('td', {}, h('code', {}, name)), h('td', {}, h('span', { className: 'type' }, typeLabel(header?.schema))), h('td', {}, header?.description ?? '')))
      }
    }
    const view = []
    if (links.length > 0) {
      const line = h('p', { className: 'headers' }, 'Headers: ')
      links.forEach((link, i) => line.append(...(i ? [', '] : []), link))
      view.push(line)
    }
    if (rows.length > 0) view.push(h('table', { className: 'headers' }, h('thead', {}, h('tr', {}, h('th', {}, 'Header'), h('th', {}, 'Type'), h('th', {}, 'Meaning'))), h('tbody', {}, ...rows)))
    return view
  }

  function operation(path, method, op) {
    const id = op.operationId ? slug(op.operationId) : slug(`${method}-${path}`)
    const section = h('section', { className: 'operation', id, 'aria-labelledby': `${id}-title` })
    section.append(h('h2', { id: `${id}-title` }, h('span', { className: `method ${method}` }, method.toUpperCase()), h('code', {}, path), op.summary ? h('span', {}, op.summary) : null))
    section.append(prose(op.description))
    const security = op.security ?? doc.security ?? []
    const schemes = security.flatMap((requirement) => Object.keys(requirement))
    section.append(
      h(
        'p',
        {},
        h('strong', {}, 'Authentication: '),
        schemes.length === 0 ? 'none' : schemes.map((scheme) => `${scheme} (${components.securitySchemes?.[scheme]?.description ?? 'bearer'})`).join(' or '),
      ),
    )
    const parameters = (op.parameters ?? []).map((p) => resolve(p, 'parameters'))
    if (parameters.length > 0) {
      section.append(h('h3', {}, 'Parameters'))
      section.append(
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'In'), h('th', {}, 'Type'), h('th', {}, 'Meaning'))),
          h(
            'tbody',
            {},
            ...parameters.map((p) =>
              h('tr', {}, h('td', {}, h('code', {}, p.name), p.required ? h('span', { className: 'required' }, ' required') : null), h('td', {}, p.in), h('td', {}, h('span', { className: 'type' }, typeLabel(p.schema))), h('td', {}, p.description ?? '')),
            ),
          ),
        ),
      )
    }
    if (op.requestBody) {
      const body = resolve(op.requestBody, 'requestBodies')
      section.append(h('h3', {}, `Request body${body.required ? ' (required)' : ''}`), prose(body.description), ...content(body.content))
    }
    section.append(h('h3', {}, 'Responses'))
    for (const [status, raw] of Object.entries(op.responses ?? {})) {
      const response = resolve(raw, 'responses')
      const block = h('div', { className: 'response' }, h('p', {}, h('span', { className: 'status' }, status), ' ', response.description ?? ''))
      // Errors share one schema: named (a link), not spelled out again under every status.
      block.append(...headersView(response.headers), ...content(response.content, Number(status) >= 400))
      section.append(block)
    }
    return { id, section }
  }

  return function render(root) {
    document.getElementById('title').textContent = `${doc.info?.title ?? 'API'} ${doc.info?.version ?? ''}`.trim()
    const toc = h('nav', { className: 'toc', 'aria-label': 'Operations' })
    const body = h('div', { className: 'reference' }, prose(doc.info?.description))
    const groups = new Map()
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of METHODS) {
        const op = item?.[method]
        if (!op) continue
        const tag = op.tags?.[0] ?? 'Other'
        if (!groups.has(tag)) groups.set(tag, [])
        groups.get(tag).push({ path, method, op })
      }
    }
    for (const [tag, ops] of groups) {
      const list = h('ul', {})
      toc.append(h('h2', { className: 'hint' }, tag), list)
      const tagInfo = (doc.tags ?? []).find((t) => t.name === tag)
      body.append(h('h2', { id: `tag-${slug(tag)}` }, tag), prose(tagInfo?.description))
      for (const { path, method, op } of ops) {
        const { id, section } = operation(path, method, op)
        list.append(h('li', {}, h('a', { href: `#${id}` }, `${method.toUpperCase()} ${path}`)))
        body.append(section)
      }
    }
    const schemas = Object.entries(components.schemas ?? {})
    if (schemas.length > 0) {
      const list = h('ul', {})
      toc.append(h('h2', { className: 'hint' }, 'Schemas'), list)
      body.append(h('h2', { id: 'schemas' }, 'Schemas'))
      for (const [name, schema] of schemas) {
        list.append(h('li', {}, h('a', { href: `#schema-${slug(name)}` }, name)))
        body.append(h('section', { className: 'operation', id: `schema-${slug(name)}` }, h('h3', {}, name), prose(schema.description), schemaView(schema, 0, false)))
      }
    }
    const headerComponents = Object.entries(components.headers ?? {})
    if (headerComponents.length > 0) {
      const list = h('ul', {})
      toc.append(h('h2', { className: 'hint' }, 'Response headers'), list)
      body.append(h('h2', { id: 'headers' }, 'Response headers'))
      for (const [name, header] of headerComponents) {
        const names = [...(headerUses.get(name) ?? [name])].join(', ')
        list.append(h('li', {}, h('a', { href: `#header-${slug(name)}` }, names)))
        body.append(
          h('section', { className: 'operation', id: `header-${slug(name)}` }, h('h3', {}, h('code', {}, names), ' ', h('span', { className: 'type' }, typeLabel(header.schema))), prose(header.description), header.example ? h('p', {}, 'Example: ', h('code', {}, header.example)) : ''),
        )
      }
    }
    root.replaceChildren(h('div', { className: 'layout' }, toc, body))
    root.removeAttribute('aria-busy')
    if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView()
  }
}

async function main() {
  const root = document.getElementById('docs')
  try {
    const response = await fetch('/openapi.json', { headers: { accept: 'application/json' } })
    if (!response.ok) throw new Error(`${response.status}: ${response.statusText}`)
    renderer(await response.json())(root)
  } catch (error) {
    root.removeAttribute('aria-busy')
    root.replaceChildren()
    document.getElementById('docs-error').textContent = `The OpenAPI document could not be read: ${error.message}`
  }
}

void main()
