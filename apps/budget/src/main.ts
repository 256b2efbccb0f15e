import { serviceMain } from '@warden/platform/nest';
import { readBudgetConfig } from './config';
import { budgetService } from './service';

serviceMain({
  name: 'budget',
  title: 'Warden budget',
  description: 'Run budgets: reservations for gate requests, settlements, tenant run limits and run usage.',
  readConfig: () => readBudgetConfig(),
  build: budgetService,
});
