import { z } from 'zod';
import { task } from '../src/engine/task.js';

export default task({
  name: 'inventory',
  help: 'Print the parsed inventory as JSON, shaped like ansible-inventory --list',
  description: 'Only the JSON goes to stdout (pipe it into jq); with --json it is the data of a result event.',
  args: z.object({
    list: z.boolean().default(false).describe('print the whole inventory (the only mode, as in ansible-inventory --list)'),
  }),
  async run(run) {
    const { ansibleJson, toAnsibleList } = await import('../src/inventory/index.js');
    const data = toAnsibleList(await run.inventory());
    run.emit({ type: 'result', task: 'inventory', data, text: ansibleJson(data) });
  },
});
