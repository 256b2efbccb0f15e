import { serviceMain } from '@warden/platform/nest';
import { readApprovalConfig } from './config';
import { approvalService } from './service';

serviceMain({
  name: 'approval',
  title: 'Warden approval',
  description: 'Approval tasks opened for gate requests pending approval: the approver queue.',
  readConfig: () => readApprovalConfig(),
  build: approvalService,
});
