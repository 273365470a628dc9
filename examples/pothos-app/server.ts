// An application with its own GraphQL API that also answers bkdr's queries, mutations and
// subscriptions: bkdr's schema pieces go onto the application's own Pothos builder.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { createYoga } from 'graphql-yoga';
import { initializeEnterpriseBackupInfrastructure } from 'bkdr';
import { addBkdrSchema, maskBkdrError } from 'bkdr/graphql';

/** What each request carries; a real application would take the user from its own authentication. */
interface AppContext {
  user: string;
}

interface Todo {
  id: string;
  title: string;
  done: boolean;
}

const todos: Todo[] = [
  { id: '1', title: 'Write the restore runbook', done: true },
  { id: '2', title: 'Run a DR test', done: false },
];

const configPath = process.env.BKDR_CONFIG;
if (!configPath) {
  console.error('BKDR_CONFIG must name a bkdr config file');
  process.exit(2);
}
const infrastructure = await initializeEnterpriseBackupInfrastructure({ backup: configPath });

const builder = new SchemaBuilder<{ Context: AppContext }>({});
// addBkdrSchema adds fields to the three root types, so the application declares them first.
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

const TodoRef = builder.objectRef<Todo>('Todo').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    done: t.exposeBoolean('done'),
  }),
});
builder.queryField('todos', (t) => t.field({ type: [TodoRef], resolve: () => todos }));

// The default authorize allows everything; `who` is what bkdr records as the actor of an operation.
const bkdr = addBkdrSchema(builder, infrastructure, { who: (ctx) => ctx.user });

const yoga = createYoga<Record<string, unknown>, AppContext>({
  schema: builder.toSchema(),
  // bkdr's own errors reach the client by their message and kind; anything else is masked.
  maskedErrors: { maskError: (error, message) => maskBkdrError(error, message) },
  graphiql: false,
  context: () => ({ user: 'example-app' }),
});

// yoga is given to node:http as the request listener: its handleNodeRequestAndResponse never answers on Node 20 (graphql-yoga 5.24).
const server = createServer(yoga);
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => resolve());
});
console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);

process.once('SIGTERM', () => {
  void (async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Subscriptions keep their connections open: close them or close() waits for ever.
      server.closeAllConnections();
    });
    // Running backups are interrupted and record how they ended before the catalog closes.
    await bkdr.shutdown();
    await infrastructure.stop();
    process.exit(0);
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
