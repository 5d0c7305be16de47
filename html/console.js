/*
 * ws-api console: the admin API of ngx_http_ws_api_module in the browser.
 *
 * Plain JavaScript, no framework, nothing fetched but the admin API and
 * config.json.  It follows the seed page's steps: APIs, Create API,
 * Create from scratch, WebSocket, Create, Basic information, Technical
 * information, Save.  Everything that comes from the API is put in the
 * page as text (textContent, attribute values), never as HTML.
 */

'use strict';

(function () {

    var state = {
        admin: '/rest/apigateway/',     /* config.json: adminUrl */
        gateway: null,                  /* config.json: gatewayUrl */
        me: null,                       /* GET /me */
        teamsOn: false,                 /* GET /teams answers, not 404 */
        teamChoices: [],
        flash: null,                    /* a notice for the next view */
        socket: null                    /* the "Try it" WebSocket */
    };

    var DATA_TYPES = [
        ['string', 'String'], ['date', 'Date'], ['date-time', 'Date time'],
        ['integer', 'Integer'], ['double', 'Double'], ['boolean', 'Boolean']
    ];
    var PARAM_TYPES = [['query', 'Query-string'], ['header', 'Header']];
    var ORIGINS = [['server', 'Server'], ['client', 'Client']];
    var MSG_TYPES = [['text', 'Text'], ['binary', 'Binary']];
    var READ_ONLY = ['id', 'isActive', 'gatewayEndpoints', 'revision',
                     'createdAt', 'updatedAt'];

    var uid = 0;


    /* DOM: elements with text, never markup */

    function el(tag, attrs) {
        var node = document.createElement(tag), k, i, kid;

        for (k in attrs || {}) {
            if (!Object.prototype.hasOwnProperty.call(attrs, k)
                || attrs[k] === null || attrs[k] === undefined
                || attrs[k] === false)
            {
                continue;
            }

            if (k === 'text') {
                node.textContent = attrs[k];
            } else if (k.slice(0, 2) === 'on') {
                node.addEventListener(k.slice(2), attrs[k]);
            } else if (k === 'value') {
                node.value = attrs[k];
            } else if (k === 'checked') {
                node.checked = true;
            } else {
                node.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
            }
        }

        for (i = 2; i < arguments.length; i++) {
            kid = arguments[i];
            if (kid === null || kid === undefined || kid === false) {
                continue;
            }
            node.appendChild(typeof kid === 'string'
                             ? document.createTextNode(kid) : kid);
        }

        return node;
    }

    function nextId(prefix) {
        uid++;
        return prefix + '-' + uid;
    }

    function select(id, options, value) {
        var s = el('select', { id: id }), i;

        for (i = 0; i < options.length; i++) {
            s.appendChild(el('option', { value: options[i][0],
                                         text: options[i][1] }));
        }

        s.value = value || options[0][0];
        return s;
    }

    /* a labelled control in a .field box; returns the box */

    function field(label, control, hint) {
        var box = el('div', { 'class': 'field' },
                     el('label', { 'for': control.id, text: label }),
                     control);

        if (hint) {
            box.appendChild(el('div', { 'class': 'hint', text: hint }));
        }

        control.fieldBox = box;
        return box;
    }


    /* the admin API */

    function call(method, path, body, headers) {
        var opt = {
            method: method,
            credentials: 'same-origin',
            cache: 'no-store',
            headers: { 'Accept': 'application/json' }
        };
        var k;

        for (k in headers || {}) {
            opt.headers[k] = headers[k];
        }

        if (body !== undefined) {
            opt.headers['Content-Type'] = 'application/json';
            opt.body = JSON.stringify(body);
        }

        return fetch(here(state.admin) + path, opt).then(function (res) {
            return res.text().then(function (text) {
                var r = { status: res.status, json: null,
                          location: res.headers.get('Location') };

                try {
                    r.json = text ? JSON.parse(text) : null;
                } catch (e) {
                    r.json = null;
                }

                if (!res.ok) {
                    r.error = (r.json && r.json.error)
                              || { status: res.status,
                                   message: 'the admin API answered '
                                            + res.status + ' '
                                            + res.statusText };
                }

                return r;
            });
        }, function (e) {
            return { status: 0, error: {
                message: 'the admin API cannot be reached (' + e.message
                         + ')' } };
        });
    }

    /*
     * an absolute URL without the page's user:password (a page opened as
     * http://user:pass@host/console/ cannot fetch relative URLs)
     */

    function here(path) {
        return new URL(path, location.origin
                             + location.pathname.replace(/[^\/]*$/, ''))
               .href;
    }

    function can(privilege) {
        var p = state.me ? state.me.privileges : null;

        /* without GET /me (an older module) the API's 403 decides */
        return !p || p.indexOf(privilege) >= 0;
    }

    function canEdit() {
        return can('manage_apis') || can('activate_apis');
    }


    /* notices */

    function notice(box, message, ok) {
        box.textContent = message || '';
        box.hidden = !message;
        box.className = ok ? 'notice ok' : 'notice';
    }

    function errorText(err) {
        return (err.status ? err.status + ': ' : '') + err.message;
    }


    /* views */

    function render() {
        var hash = location.hash || '#/apis';
        var view = document.getElementById('view');
        var m;

        closeSocket();

        view.textContent = '';
        notice(document.getElementById('notice'),
               state.flash ? state.flash[0] : null,
               state.flash ? state.flash[1] : false);
        state.flash = null;

        document.getElementById('nav-apis').setAttribute('aria-current',
                                                         'page');

        if (hash === '#/apis' || hash === '#/' || hash === '#') {
            listView(view);
        } else if (hash === '#/create') {
            createView(view);
        } else if (hash === '#/new') {
            document.title = 'New API - ws-api console';
            view.appendChild(el('h1', { text: 'New WebSocket API' }));
            view.appendChild(editor(null));
        } else if ((m = /^#\/apis\/([^/]+)$/.exec(hash))) {
            apiView(view, decodeURIComponent(m[1]));
        } else {
            view.appendChild(el('h1', { text: 'Not found' }));
            view.appendChild(el('p', {}, el('a', { href: '#/apis',
                                                   text: 'APIs' })));
        }

        document.getElementById('main').focus({ preventScroll: true });
    }

    function listView(view) {
        var card, table, tbody;

        document.title = 'APIs - ws-api console';

        view.appendChild(el('div', { 'class': 'row' },
            el('h1', { text: 'APIs' }),
            el('span', { 'class': 'spacer' }),
            canEdit() ? el('a', { 'class': 'button primary', id: 'create-api',
                                  href: '#/create', text: 'Create API' })
                      : null));

        card = el('div', { 'class': 'card' },
                  el('p', { 'class': 'muted', text: 'Loading...' }));
        view.appendChild(card);

        call('GET', 'apis').then(function (r) {
            var apis, i;

            card.textContent = '';

            if (r.error) {
                card.appendChild(el('p', { 'class': 'error',
                                           text: errorText(r.error) }));
                return;
            }

            apis = r.json.apis || [];

            if (apis.length === 0) {
                card.appendChild(el('p', { 'class': 'muted',
                    text: 'No APIs yet. Create one with "Create API".' }));
                return;
            }

            table = el('table', { id: 'api-list' },
                el('caption', { 'class': 'skip', text: 'WebSocket APIs' }),
                el('thead', {}, el('tr', {},
                    el('th', { scope: 'col', text: 'Name' }),
                    el('th', { scope: 'col', text: 'Version' }),
                    el('th', { scope: 'col', text: 'Status' }),
                    state.teamsOn ? el('th', { scope: 'col', text: 'Teams' })
                                  : null,
                    el('th', { scope: 'col', text: 'WS Url' }),
                    el('th', { scope: 'col', text: 'Updated' }),
                    can('activate_apis')
                        ? el('th', { scope: 'col', text: 'Actions' }) : null)));
            tbody = el('tbody');

            for (i = 0; i < apis.length; i++) {
                tbody.appendChild(listRow(apis[i]));
            }

            table.appendChild(tbody);
            card.appendChild(table);
        });
    }

    function listRow(api) {
        var tr = el('tr', { 'data-id': api.id });

        tr.appendChild(el('td', {}, el('a', {
            href: '#/apis/' + encodeURIComponent(api.id),
            text: api.apiName })));
        tr.appendChild(el('td', { text: api.apiVersion }));
        tr.appendChild(el('td', {}, badge(api.isActive)));

        if (state.teamsOn) {
            tr.appendChild(el('td', { text: (api.teams || []).join(', ') }));
        }

        tr.appendChild(el('td', { 'class': api.wsUrl ? 'mono' : 'muted',
                                  text: api.wsUrl || 'not set yet' }));
        tr.appendChild(el('td', { 'class': 'small muted',
                                  text: (api.updatedAt || '').replace('T', ' ')
                                        .replace(/\.\d+Z$/, 'Z') }));

        if (can('activate_apis')) {
            tr.appendChild(el('td', {}, activationButton(api, function (r) {
                if (r.error) {
                    notice(document.getElementById('notice'),
                           api.apiName + ' ' + api.apiVersion + ': '
                           + errorText(r.error));
                    return;
                }
                render();
            })));
        }

        return tr;
    }

    function badge(active) {
        return el('span', { 'class': active ? 'badge active'
                                            : 'badge inactive',
                            text: active ? 'Active' : 'Inactive' });
    }

    function activationButton(api, done) {
        var action = api.isActive ? 'deactivate' : 'activate';

        return el('button', {
            type: 'button',
            'class': api.isActive ? '' : 'primary',
            'data-action': action,
            'aria-label': (api.isActive ? 'Deactivate ' : 'Activate ')
                          + api.apiName + ' ' + api.apiVersion,
            text: api.isActive ? 'Deactivate' : 'Activate',
            onclick: function (ev) {
                ev.target.disabled = true;
                call('PUT', 'apis/' + encodeURIComponent(api.id) + '/'
                            + action).then(done);
            }
        });
    }

    /* Create API -> Create from scratch -> WebSocket -> Create */

    function createView(view) {
        var create, form;

        document.title = 'Create API - ws-api console';

        function update() {
            create.disabled = !(form.querySelector('input[name="how"]:checked')
                && form.querySelector('input[name="kind"]:checked'));
        }

        create = el('button', { type: 'submit', 'class': 'primary',
                                id: 'create', disabled: true,
                                text: 'Create' });

        form = el('form', { 'class': 'card', onchange: update,
                            onsubmit: function (ev) {
                                ev.preventDefault();
                                location.hash = '#/new';
                            } },
            el('fieldset', { 'class': 'plain' },
                el('legend', {}, el('h2', { text: 'How' })),
                el('div', { 'class': 'choices' },
                    el('label', { 'class': 'choice' },
                        el('input', { type: 'radio', name: 'how',
                                      value: 'scratch', id: 'from-scratch' }),
                        el('strong', { text: 'Create from scratch' }),
                        el('span', { 'class': 'small muted',
                            text: 'Define the API by hand: basic and '
                                  + 'technical information.' })))),
            el('fieldset', { 'class': 'plain' },
                el('legend', {}, el('h2', { text: 'Type' })),
                el('div', { 'class': 'choices' },
                    el('label', { 'class': 'choice' },
                        el('input', { type: 'radio', name: 'kind',
                                      value: 'websocket', id: 'websocket' }),
                        el('strong', { text: 'WebSocket' }),
                        el('span', { 'class': 'small muted',
                            text: 'A WebSocket backend behind the gateway, '
                                  + 'with its parameters and messages.' })))),
            el('div', { 'class': 'actions' },
                el('a', { 'class': 'button', href: '#/apis',
                          text: 'Cancel' }),
                create));

        view.appendChild(el('h1', { text: 'Create API' }));
        view.appendChild(form);
    }

    function apiView(view, id) {
        var holder = el('div', {}, el('p', { 'class': 'muted',
                                             text: 'Loading...' }));

        view.appendChild(holder);

        call('GET', 'apis/' + encodeURIComponent(id)).then(function (r) {
            holder.textContent = '';

            if (r.error) {
                holder.appendChild(el('h1', { text: 'API' }));
                holder.appendChild(el('p', { 'class': 'error',
                                             text: errorText(r.error) }));
                return;
            }

            showApi(holder, r.json);
        });
    }

    function showApi(holder, def) {
        var head, ed, tools;

        document.title = def.apiName + ' ' + def.apiVersion
                         + ' - ws-api console';

        tools = el('div', { 'class': 'row' });

        ed = editor(def);

        if (can('activate_apis')) {
            tools.appendChild(activationButton(def, function (r) {
                if (r.error) {
                    ed.showError(r.error);
                    return;
                }
                state.flash = [def.apiName + ' ' + def.apiVersion + ' is '
                               + (r.json.isActive ? 'active' : 'inactive')
                               + '.', true];
                render();
            }));
        }

        if (canEdit() && !def.isActive) {
            tools.appendChild(el('button', {
                type: 'button', 'class': 'danger', id: 'delete',
                text: 'Delete',
                onclick: function () {
                    if (!window.confirm('Delete ' + def.apiName + ' '
                                        + def.apiVersion + '?'))
                    {
                        return;
                    }
                    call('DELETE', 'apis/' + encodeURIComponent(def.id), undefined,
                         { 'If-Match': '"' + def.revision + '"' })
                        .then(function (r) {
                            if (r.error) {
                                ed.showError(r.error);
                                return;
                            }
                            state.flash = [def.apiName + ' ' + def.apiVersion
                                           + ' was deleted.', true];
                            location.hash = '#/apis';
                        });
                }
            }));
        }

        head = el('div', { 'class': 'row' },
            el('h1', {}, def.apiName + ' ',
               el('span', { 'class': 'muted', text: def.apiVersion })),
            badge(def.isActive),
            el('span', { 'class': 'spacer' }),
            tools);

        holder.appendChild(el('p', { 'class': 'small' },
                              el('a', { href: '#/apis', text: 'APIs' }),
                              ' / ' + def.apiName + ' ' + def.apiVersion));
        holder.appendChild(head);
        holder.appendChild(ed);
        holder.appendChild(tryIt(def));
        holder.appendChild(versions(def));
    }


    /*
     * Basic information and Technical information, for a new API
     * (def null) or an existing one; Save sends POST /apis or a full PUT
     * that keeps what the console does not edit (policies, schemas...).
     */

    function editor(def) {
        var root, form, msg, sections = {}, stepButtons = {};
        var name, version, description, teams = [], teamList, teamInput;
        var wsUrl, params = [], msgs = [], paramBox, msgBox, errors = [];

        function section(key, title) {
            var s = el('section', { id: 'section-' + key,
                                    'aria-labelledby': 'heading-' + key },
                       el('h2', { id: 'heading-' + key, text: title }));
            sections[key] = s;
            return s;
        }

        function show(key) {
            var k;

            for (k in sections) {
                sections[k].hidden = (k !== key);
                stepButtons[k].setAttribute('aria-current',
                                            k === key ? 'step' : 'false');
            }
        }

        function stepButton(key, title) {
            stepButtons[key] = el('button', {
                type: 'button', id: 'step-' + key, text: title,
                'aria-controls': 'section-' + key,
                onclick: function () { show(key); }
            });
            return el('li', {}, stepButtons[key]);
        }

        /* Basic information */

        name = el('input', { type: 'text', id: nextId('api-name'),
                             autocomplete: 'off', required: true,
                             value: def ? def.apiName : '' });
        version = el('input', { type: 'text', id: nextId('api-version'),
                                autocomplete: 'off',
                                value: def ? def.apiVersion : '1.0' });
        description = el('textarea', { id: nextId('api-description'),
                                       value: def ? def.apiDescription : ''
                                     });

        var basic = section('basic', 'Basic information');

        basic.appendChild(el('div', { 'class': 'grid2' },
            field('Name', name, 'Letters, digits, ".", "_" and "-".'),
            field('Version', version)));

        if (state.teamsOn) {
            teams = def && def.teams ? def.teams.slice() : [];
            teamList = el('ul', { 'class': 'chips', id: 'team-list',
                                  'aria-label': 'Teams of the API' });
            teamInput = el('input', { type: 'text', id: nextId('team'),
                                      list: 'team-choices',
                                      autocomplete: 'off',
                                      placeholder: 'team name' });

            var choices = el('datalist', { id: 'team-choices' });
            state.teamChoices.forEach(function (t) {
                choices.appendChild(el('option', { value: t }));
            });

            var addTeam = function () {
                var t = teamInput.value.trim();
                if (t && teams.indexOf(t) < 0) {
                    teams.push(t);
                    drawTeams();
                }
                teamInput.value = '';
                teamInput.focus();
            };

            var box = el('div', { 'class': 'field', id: 'teams-field' },
                el('label', { 'for': teamInput.id, text: 'Team' }),
                el('div', { 'class': 'adder' }, teamInput,
                   el('button', { type: 'button', id: 'add-team',
                                  text: 'Add team', onclick: addTeam })),
                choices, teamList,
                el('div', { 'class': 'hint', text: 'You can select more '
                            + 'than one team.' }));
            teamInput.addEventListener('keydown', function (ev) {
                if (ev.key === 'Enter') {
                    ev.preventDefault();
                    addTeam();
                }
            });
            teamInput.fieldBox = box;
            basic.appendChild(box);
            drawTeams();
        }

        basic.appendChild(field('Description', description));

        /* Technical information */

        wsUrl = el('input', { type: 'text', id: nextId('ws-url'),
                              autocomplete: 'off', spellcheck: 'false',
                              placeholder: 'ws://hostname:port/path',
                              value: def && def.wsUrl ? def.wsUrl : '' });
        paramBox = el('div', { id: 'parameters' });
        msgBox = el('div', { id: 'messages' });

        var technical = section('technical', 'Technical information');

        technical.appendChild(field('WS Url', wsUrl,
                                    'The format used is '
                                    + 'ws://hostname:port/path.'));
        technical.appendChild(el('h3', { text: 'Parameters' }));
        technical.appendChild(paramBox);
        technical.appendChild(el('p', {}, el('button', {
            type: 'button', 'class': 'link', id: 'add-parameter',
            text: '+ Add parameter',
            onclick: function () { addParam({}).focus(); }
        })));
        technical.appendChild(el('h3', { text: 'Messages' }));
        technical.appendChild(msgBox);
        technical.appendChild(el('p', {}, el('button', {
            type: 'button', 'class': 'link', id: 'add-message',
            text: '+ Add message',
            onclick: function () { addMessage({}).focus(); }
        })));

        (def ? def.parameters || [] : []).forEach(addParam);
        (def ? def.messages || [] : []).forEach(addMessage);

        /* the form */

        msg = el('div', { 'class': 'notice', role: 'alert', id: 'form-notice',
                          hidden: true });

        var save = el('button', { type: 'submit', 'class': 'primary',
                                  id: 'save', text: 'Save',
                                  disabled: !canEdit() });
        var cont = el('button', { type: 'button', id: 'continue',
                                  text: 'Continue',
                                  onclick: function () {
                                      show('technical');
                                      wsUrl.focus();
                                  } });

        basic.appendChild(el('div', { 'class': 'actions' }, cont));

        form = el('form', { 'class': 'card', novalidate: true,
                            'aria-label': 'API definition',
                            onsubmit: function (ev) {
                                ev.preventDefault();
                                submit(save);
                            } },
                  msg, basic, technical,
                  el('div', { 'class': 'actions' }, save));

        root = el('div', { 'class': 'editor' },
            el('nav', { 'aria-label': 'Sections' },
               el('ol', { 'class': 'steps' },
                  stepButton('basic', 'Basic information'),
                  stepButton('technical', 'Technical information'))),
            form);

        show('basic');

        /* teams, parameters and messages */

        function drawTeams() {
            teamList.textContent = '';
            teams.forEach(function (t, i) {
                teamList.appendChild(el('li', { 'class': 'chip' }, t,
                    el('button', {
                        type: 'button', 'class': 'icon',
                        'aria-label': 'Remove team ' + t,
                        title: 'Remove team ' + t, text: '\u00d7',
                        onclick: function () {
                            teams.splice(i, 1);
                            drawTeams();
                            teamInput.focus();
                        } })));
            });
        }

        function addParam(p) {
            var row = { orig: p, values: (p.values || []).slice() };
            var box, valueInput, valueList, first;

            row.name = el('input', { type: 'text', id: nextId('param-name'),
                                     autocomplete: 'off',
                                     value: p.name || '' });
            row.description = el('input', { type: 'text',
                                            id: nextId('param-description'),
                                            value: p.description || '' });
            row['in'] = select(nextId('param-in'), PARAM_TYPES, p['in']);
            row.dataType = select(nextId('param-type'), DATA_TYPES,
                                  p.dataType);
            row.required = el('input', { type: 'checkbox',
                                         id: nextId('param-required'),
                                         checked: !!p.required });
            row.array = el('input', { type: 'checkbox',
                                      id: nextId('param-array'),
                                      checked: !!p.array });
            valueInput = el('input', { type: 'text', id: nextId('param-value'),
                                       autocomplete: 'off',
                                       placeholder: 'allowed value' });
            valueList = el('ul', { 'class': 'chips',
                                   'aria-label': 'Allowed values' });

            function drawValues() {
                valueList.textContent = '';
                row.values.forEach(function (v, i) {
                    valueList.appendChild(el('li', { 'class': 'chip' },
                        el('span', { 'class': 'mono', text: v }),
                        el('button', {
                            type: 'button', 'class': 'icon',
                            'aria-label': 'Remove value ' + v,
                            title: 'Remove value', text: '\u00d7',
                            onclick: function () {
                                row.values.splice(i, 1);
                                drawValues();
                            } })));
                });
            }

            function addValue() {
                if (valueInput.value !== '') {
                    row.values.push(valueInput.value);
                    valueInput.value = '';
                    drawValues();
                }
                valueInput.focus();
            }

            valueInput.addEventListener('keydown', function (ev) {
                if (ev.key === 'Enter') {
                    ev.preventDefault();
                    addValue();
                }
            });

            var valuesBox = el('div', { 'class': 'field' },
                el('label', { 'for': valueInput.id, text: 'Values' }),
                el('div', { 'class': 'adder' }, valueInput,
                   el('button', { type: 'button', 'class': 'add-value',
                                  'aria-label': 'Add value',
                                  title: 'Add value', text: '+',
                                  onclick: addValue })),
                valueList,
                el('div', { 'class': 'hint', text: 'Type the required '
                            + 'value and click + to add it; none: any '
                            + 'value.' }));
            valueInput.fieldBox = valuesBox;
            row.values.box = valuesBox;

            first = el('legend', { 'class': 'skip', text: 'Parameter' });

            box = el('fieldset', { 'class': 'item parameter' }, first,
                el('div', { 'class': 'row' },
                   el('strong', { 'class': 'title', text: 'Parameter' }),
                   el('span', { 'class': 'spacer' }),
                   el('button', { type: 'button', 'class': 'link remove',
                                  text: 'Remove parameter',
                                  onclick: function () {
                                      params.splice(params.indexOf(row), 1);
                                      box.remove();
                                      numberItems(params, 'Parameter');
                                  } })),
                el('div', { 'class': 'grid2' },
                   field('Name', row.name),
                   field('Description', row.description),
                   field('Parameter type', row['in']),
                   field('Data type', row.dataType)),
                el('div', { 'class': 'checks' },
                   el('label', {}, row.required, ' Required'),
                   el('label', {}, row.array, ' Array')),
                valuesBox);

            row.required.fieldBox = box.querySelector('.checks');
            row.array.fieldBox = row.required.fieldBox;
            row.box = box;
            row.focus = function () { row.name.focus(); };
            row.control = { name: row.name, description: row.description,
                            'in': row['in'], dataType: row.dataType,
                            required: row.required, array: row.array,
                            values: valueInput };

            drawValues();
            params.push(row);
            paramBox.appendChild(box);
            numberItems(params, 'Parameter');
            return row;
        }

        function addMessage(m) {
            var row = { orig: m }, box;

            row.origin = select(nextId('msg-origin'), ORIGINS,
                                m.origin || 'client');
            row.type = select(nextId('msg-type'), MSG_TYPES, m.type);
            row.samplePayload = el('textarea', { id: nextId('msg-payload'),
                                                 spellcheck: 'false',
                                                 value: m.samplePayload
                                                        || '' });
            row.description = el('input', { type: 'text',
                                            id: nextId('msg-description'),
                                            value: m.description || '' });

            box = el('fieldset', { 'class': 'item message' },
                el('legend', { 'class': 'skip', text: 'Message' }),
                el('div', { 'class': 'row' },
                   el('strong', { 'class': 'title', text: 'Message' }),
                   el('span', { 'class': 'spacer' }),
                   el('button', { type: 'button', 'class': 'link remove',
                                  text: 'Remove message',
                                  onclick: function () {
                                      msgs.splice(msgs.indexOf(row), 1);
                                      box.remove();
                                      numberItems(msgs, 'Message');
                                  } })),
                el('div', { 'class': 'grid2' },
                   field('Origin', row.origin),
                   field('Type', row.type),
                   el('div', { 'class': 'wide' },
                      field('Sample message payload', row.samplePayload)),
                   el('div', { 'class': 'wide' },
                      field('Message description', row.description))));

            row.box = box;
            row.focus = function () { row.origin.focus(); };
            row.control = { origin: row.origin, type: row.type,
                            samplePayload: row.samplePayload,
                            description: row.description };

            msgs.push(row);
            msgBox.appendChild(box);
            numberItems(msgs, 'Message');
            return row;
        }

        function numberItems(rows, what) {
            rows.forEach(function (row, i) {
                var t = what + ' ' + (i + 1);
                row.box.querySelector('.title').textContent = t;
                row.box.querySelector('legend').textContent = t;
            });
        }

        /* the definition to send */

        function collect() {
            var out = {}, k, url;

            if (def) {
                for (k in def) {
                    if (READ_ONLY.indexOf(k) < 0) {
                        out[k] = def[k];
                    }
                }
            } else {
                out.type = 'websocket';
            }

            out.apiName = name.value.trim();
            out.apiVersion = version.value.trim() || '1.0';
            out.apiDescription = description.value;

            if (state.teamsOn) {
                out.teams = teams.slice();
            }

            url = wsUrl.value.trim();

            if (url !== '' || def) {
                out.wsUrl = url === '' ? null : url;
            }

            out.parameters = params.map(function (row) {
                return merge(row.orig, {
                    name: row.name.value,
                    description: row.description.value,
                    'in': row['in'].value,
                    dataType: row.dataType.value,
                    required: row.required.checked,
                    array: row.array.checked,
                    values: row.values.slice()
                });
            });

            out.messages = msgs.map(function (row) {
                return merge(row.orig, {
                    origin: row.origin.value,
                    type: row.type.value,
                    samplePayload: row.samplePayload.value,
                    description: row.description.value
                });
            });

            return out;
        }

        function submit(button) {
            var body = collect(), req;

            clearErrors();
            button.disabled = true;

            if (def) {
                req = call('PUT', 'apis/' + encodeURIComponent(def.id), body,
                           { 'If-Match': '"' + def.revision + '"' });
            } else {
                req = call('POST', 'apis', body);
            }

            req.then(function (r) {
                button.disabled = false;

                if (r.error) {
                    if (r.status === 412) {
                        r.error.message = 'the API was changed meanwhile by '
                                          + 'someone else; reload the page '
                                          + 'to see the current definition';
                    }
                    showError(r.error);
                    return;
                }

                state.flash = [r.json.apiName + ' ' + r.json.apiVersion
                               + (def ? ' was saved.' : ' was created.'),
                               true];

                if (def) {
                    render();
                } else {
                    location.hash = '#/apis/' + encodeURIComponent(r.json.id);
                }
            });
        }

        /* errors: next to the field the admin API names, else on top */

        function target(path) {
            var m, rows, row;

            if (path === 'apiName') { return name; }
            if (path === 'apiVersion') { return version; }
            if (path === 'apiDescription') { return description; }
            if (path === 'wsUrl') { return wsUrl; }
            if (/^teams(\[\d+\])?$/.test(path) && teamInput) {
                return teamInput;
            }

            m = /^(parameters|messages)(?:\[(\d+)\](?:\.(\w+))?)?/.exec(path);
            if (!m) {
                return null;
            }

            rows = m[1] === 'parameters' ? params : msgs;

            if (m[2] === undefined) {
                return m[1] === 'parameters'
                       ? document.getElementById('add-parameter')
                       : document.getElementById('add-message');
            }

            row = rows[+m[2]];
            if (!row) {
                return null;
            }

            return (m[3] && row.control[m[3]]) || row.control[
                m[1] === 'parameters' ? 'name' : 'origin'];
        }

        function showError(err) {
            var control = err.field ? target(err.field) : null;
            var box, p, id;

            clearErrors();

            if (!control) {
                notice(msg, errorText(err));
                msg.scrollIntoView({ block: 'nearest' });
                return;
            }

            show(sections.technical.contains(control) ? 'technical'
                                                      : 'basic');

            id = nextId('error');
            p = el('p', { 'class': 'error', id: id,
                          'data-field': err.field, text: err.message });
            box = control.fieldBox || control.parentNode;
            box.appendChild(p);

            control.setAttribute('aria-invalid', 'true');
            control.setAttribute('aria-describedby', id);
            errors.push([p, control]);

            control.focus();
            control.scrollIntoView({ block: 'center' });
        }

        function clearErrors() {
            errors.forEach(function (e) {
                e[0].remove();
                e[1].removeAttribute('aria-invalid');
                e[1].removeAttribute('aria-describedby');
            });
            errors = [];
            notice(msg, null);
        }

        root.showError = showError;
        root.show = show;
        return root;
    }

    function merge(base, over) {
        var out = {}, k;

        for (k in base || {}) {
            out[k] = base[k];
        }
        for (k in over) {
            out[k] = over[k];
        }
        return out;
    }


    /* versions: the API's other versions, and POST /apis/{id}/versions */

    function versions(def) {
        var list = el('ul', { id: 'version-list' });
        var input = el('input', { type: 'text', id: 'new-version',
                                  autocomplete: 'off',
                                  placeholder: 'e.g. 2.0' });
        var box = field('New version', input);
        var err = null;
        var button = el('button', { type: 'submit', id: 'create-version',
                                    text: 'Create version',
                                    disabled: !canEdit() });

        var form = el('form', { 'class': 'card', id: 'versions',
                                'aria-labelledby': 'versions-heading',
                                onsubmit: function (ev) {
            ev.preventDefault();

            if (err) {
                err.remove();
                input.removeAttribute('aria-invalid');
            }

            call('POST', 'apis/' + encodeURIComponent(def.id) + '/versions',
                 { newApiVersion: input.value.trim() }).then(function (r) {
                if (r.error) {
                    err = el('p', { 'class': 'error', role: 'alert',
                                    id: 'version-error',
                                    text: errorText(r.error) });
                    box.appendChild(err);
                    input.setAttribute('aria-invalid', 'true');
                    input.setAttribute('aria-describedby', 'version-error');
                    input.focus();
                    return;
                }

                state.flash = [r.json.apiName + ' ' + r.json.apiVersion
                               + ' was created (inactive), a copy of '
                               + def.apiVersion + '.', true];
                location.hash = '#/apis/' + encodeURIComponent(r.json.id);
            });
        } },
            el('h2', { id: 'versions-heading', text: 'Versions' }),
            list,
            el('div', { 'class': 'row' }, box, button));

        call('GET', 'apis').then(function (r) {
            if (r.error) {
                return;
            }

            (r.json.apis || []).filter(function (a) {
                return a.apiName === def.apiName;
            }).forEach(function (a) {
                list.appendChild(el('li', {},
                    a.id === def.id
                        ? el('strong', { text: a.apiVersion })
                        : el('a', { href: '#/apis/' + encodeURIComponent(a.id),
                                    text: a.apiVersion }),
                    ' ', badge(a.isActive)));
            });
        });

        return form;
    }


    /* Try it: a WebSocket from the browser through the gateway */

    function tryIt(def) {
        var card = el('section', { 'class': 'card', id: 'try-it',
                                   'aria-labelledby': 'try-heading' },
                      el('h2', { id: 'try-heading', text: 'Try it' }));
        var endpoint, gateway, queryBox, queries = [], connect, status;
        var payload, hex, sendText, sendBinary, log;

        if (!def.isActive || !(def.gatewayEndpoints || []).length) {
            card.appendChild(el('p', { 'class': 'muted',
                text: 'Activate the API to connect to it through the '
                      + 'gateway.' }));
            return card;
        }

        gateway = el('input', { type: 'text', id: 'try-gateway',
                                spellcheck: 'false',
                                value: state.gateway
                                       || defaultGateway() });
        endpoint = select('try-endpoint', def.gatewayEndpoints.map(
            function (e) { return [e, e]; }));
        queryBox = el('div', { id: 'try-query' });

        function addQuery(name, value) {
            var n = el('input', { type: 'text', 'aria-label': 'Query '
                                  + 'parameter name', value: name,
                                  'class': 'q-name' });
            var v = el('input', { type: 'text', 'aria-label': 'Value of '
                                  + 'query parameter', value: value,
                                  'class': 'q-value' });
            var row = el('div', { 'class': 'adder', style: null }, n, v);
            var q = { n: n, v: v };

            row.appendChild(el('button', { type: 'button', 'class': 'icon',
                                           'aria-label': 'Remove query '
                                           + 'parameter', text: '\u00d7',
                                           onclick: function () {
                                               queries.splice(
                                                   queries.indexOf(q), 1);
                                               row.remove();
                                           } }));
            queries.push(q);
            queryBox.appendChild(row);
            return n;
        }

        (def.parameters || []).forEach(function (p) {
            if (p['in'] === 'query') {
                addQuery(p.name, p.values && p.values.length ? p.values[0]
                                                              : '');
            }
        });

        status = el('p', { id: 'try-status', 'class': 'small muted',
                           'aria-live': 'polite', text: 'Not connected.' });
        log = el('ol', { 'class': 'log', id: 'try-log',
                         'aria-label': 'Frames', 'aria-live': 'polite' });
        payload = el('textarea', { id: 'try-payload', spellcheck: 'false',
                                   value: sampleFor(def) });
        hex = el('input', { type: 'checkbox', id: 'try-hex' });

        function url() {
            var base = gateway.value.trim().replace(/\/+$/, '');
            var qs = queries.filter(function (q) { return q.n.value !== ''; })
                .map(function (q) {
                    return encodeURIComponent(q.n.value) + '='
                           + encodeURIComponent(q.v.value)
                               .replace(/%2C/gi, ',');
                }).join('&');

            return base + endpoint.value + (qs ? '?' + qs : '');
        }

        function line(cls, dir, kind, data) {
            var li = el('li', { 'class': cls },
                        el('span', { 'class': 'dir', 'aria-hidden': 'true',
                                     text: dir }),
                        el('span', { 'class': 'kind', text: kind }),
                        el('span', { 'class': 'data', text: data }));
            log.appendChild(li);
            log.scrollTop = log.scrollHeight;
        }

        function connected(on) {
            connect.textContent = on ? 'Disconnect' : 'Connect';
            sendText.disabled = !on;
            sendBinary.disabled = !on;
        }

        connect = el('button', { type: 'button', 'class': 'primary',
                                 id: 'try-connect', text: 'Connect',
                                 onclick: function () {
            var ws, u;

            if (state.socket) {
                state.socket.close(1000, 'closed in the console');
                return;
            }

            u = url();

            try {
                ws = new WebSocket(u);
            } catch (e) {
                line('event close', '!', 'error', e.message);
                return;
            }

            ws.binaryType = 'arraybuffer';
            state.socket = ws;
            connect.textContent = 'Cancel';
            status.textContent = 'Connecting to ' + u + ' ...';
            line('event', '\u2026', 'connect', u);

            ws.onopen = function () {
                status.textContent = 'Connected to ' + u + '.';
                line('event', '\u2713', 'open', 'connected'
                     + (ws.protocol ? ', subprotocol ' + ws.protocol : ''));
                connected(true);
            };

            ws.onmessage = function (ev) {
                if (typeof ev.data === 'string') {
                    line('in', '\u2190', 'text', ev.data);
                } else {
                    line('in', '\u2190', 'binary',
                         describeBytes(new Uint8Array(ev.data)));
                }
            };

            ws.onerror = function () {
                line('event close', '!', 'error', 'the connection failed '
                     + 'or broke (a refused handshake, such as a missing '
                     + 'parameter, shows as close code 1006: the browser '
                     + 'does not tell its status)');
            };

            ws.onclose = function (ev) {
                var text = 'code ' + ev.code
                           + (ev.reason ? ': ' + ev.reason : '')
                           + (ev.wasClean ? '' : ' (not clean)');

                line('event close', '\u2715', 'close', text);
                status.textContent = 'Closed, ' + text + '.';
                status.setAttribute('data-code', String(ev.code));
                if (state.socket === ws) {
                    state.socket = null;
                }
                connected(false);
            };
        } });

        sendText = el('button', { type: 'button', id: 'try-send-text',
                                  text: 'Send text', disabled: true,
                                  onclick: function () {
            if (state.socket) {
                state.socket.send(payload.value);
                line('out', '\u2192', 'text', payload.value);
            }
        } });

        sendBinary = el('button', { type: 'button', id: 'try-send-binary',
                                    text: 'Send binary', disabled: true,
                                    onclick: function () {
            var bytes;

            if (!state.socket) {
                return;
            }

            if (hex.checked) {
                bytes = parseHex(payload.value);
                if (bytes === null) {
                    line('event close', '!', 'error', 'not hexadecimal '
                         + 'bytes: write them as "01 02 ff"');
                    return;
                }
            } else {
                bytes = new TextEncoder().encode(payload.value);
            }

            state.socket.send(bytes);
            line('out', '\u2192', 'binary', describeBytes(bytes));
        } });

        card.appendChild(el('div', { 'class': 'grid2' },
            field('Gateway', gateway, 'Where the gateway listens '
                  + '(config.json: gatewayUrl).'),
            field('Endpoint', endpoint)));
        card.appendChild(el('div', { 'class': 'field' },
            el('span', { 'class': 'label', text: 'Query parameters' }),
            queryBox,
            el('button', { type: 'button', 'class': 'link',
                           id: 'try-add-query',
                           text: '+ Add query parameter',
                           onclick: function () {
                               addQuery('', '').focus();
                           } }),
            el('div', { 'class': 'hint', text: 'A browser cannot set '
                        + 'headers on a WebSocket: header parameters '
                        + 'cannot be tried here.' })));
        card.appendChild(el('div', { 'class': 'row' }, connect, status));
        card.appendChild(field('Message', payload));
        card.appendChild(el('div', { 'class': 'row' }, sendText, sendBinary,
            el('label', { 'class': 'small' }, hex,
               ' binary payload in hexadecimal'),
            el('span', { 'class': 'spacer' }),
            el('button', { type: 'button', 'class': 'link',
                           text: 'Clear', onclick: function () {
                               log.textContent = '';
                           } })));
        card.appendChild(log);

        return card;
    }

    function sampleFor(def) {
        var m = (def.messages || []).filter(function (x) {
            return x.origin === 'client' && x.type === 'text';
        })[0];
        return m ? m.samplePayload || '' : '';
    }

    function defaultGateway() {
        return (location.protocol === 'https:' ? 'wss://' : 'ws://')
               + location.hostname + ':8080';
    }

    function describeBytes(bytes) {
        var parts = [], i, n = Math.min(bytes.length, 64);

        for (i = 0; i < n; i++) {
            parts.push((bytes[i] < 16 ? '0' : '') + bytes[i].toString(16));
        }

        return bytes.length + ' bytes: ' + parts.join(' ')
               + (bytes.length > n ? ' ...' : '');
    }

    function parseHex(text) {
        var s = text.replace(/[\s,:]+/g, ''), out, i;

        if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) {
            return null;
        }

        out = new Uint8Array(s.length / 2);
        for (i = 0; i < out.length; i++) {
            out[i] = parseInt(s.substr(i * 2, 2), 16);
        }
        return out;
    }

    function closeSocket() {
        if (state.socket) {
            state.socket.onclose = null;
            state.socket.close(1000, 'left the page');
            state.socket = null;
        }
    }


    /* start: configuration, the caller, the teams feature, then the view */

    function start() {
        fetch(here('config.json'), { cache: 'no-store' }).then(function (res) {
            return res.ok ? res.json() : {};
        }).catch(function () {
            return {};
        }).then(function (conf) {
            if (conf && typeof conf.adminUrl === 'string') {
                state.admin = conf.adminUrl.replace(/\/*$/, '/');
            }
            if (conf && typeof conf.gatewayUrl === 'string') {
                state.gateway = conf.gatewayUrl;
            }

            return Promise.all([call('GET', 'me'), call('GET', 'teams')]);
        }).then(function (r) {
            var me = r[0], teams = r[1];

            if (me.status === 200 && me.json) {
                state.me = me.json;
                document.getElementById('who').textContent =
                    (me.json.name || '') + (me.json.superuser
                                           ? ' (superuser)' : '');
            }

            /* 404 while "ws_api_teams off"; 403 to callers without
             * manage_users, who choose among their own teams */

            state.teamsOn = teams.status !== 404 && teams.status !== 0;

            if (teams.status === 200 && teams.json) {
                state.teamChoices = (teams.json.teams || []).map(
                    function (t) { return t.name; });
            } else if (state.me) {
                state.teamChoices = state.me.teams || [];
            }

            window.addEventListener('hashchange', render);
            render();
            document.body.setAttribute('data-ready', '1');
        });
    }

    start();

})();
