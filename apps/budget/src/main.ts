import { serviceMain } from '@warden/platform/nest';
import { readBudgetConfig } from './config';
import { budgetService } from './service';

serviceMain({
  name: 'budget',
  title: 'Warden budget',
  description:
    'Autonomy budgets: seven dimensions at tool, run, agent and tenant scope; reservations, settlements, usage and cost per outcome.',
  readConfig: () => readBudgetConfig(),
  build: budgetService,
});
